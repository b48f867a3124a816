#!/usr/bin/python3
"""Makes the TorchScript test assets of eqnn's probe tests (run by hand with Debian's
python3-torch; tests and CI only read the files it writes).

  /usr/bin/python3 tests/data/torchscript/make_models.py [--epochs 1]

Writes, next to this script:
  inputs-idx3-ubyte         16 Fashion-MNIST test images (uint8 IDX; eqnn reads them as x / 255)
  resnet_scripted.pt        a small ResNet (BasicBlocks with a downsample branch, functional ReLU,
  resnet_traced.pt          torch.flatten in forward, submodules registered out of call order),
                            trained on Fashion-MNIST, scripted and traced
  resnet_expected.json      the G-EED values of that model under D4 at a dozen submodules and the
                            output, from forward hooks in float64 (docs/metrics.md, section 2)
  p4_plain_convs.pt         an exactly p4-equivariant network made of plain Conv2d layers (regular
                            C4 fields), scripted: equivariant only under the declared action
  twice.pt, tuple.pt        a submodule called twice; a submodule returning a tuple
  eager_model.pt, state_dict.pt, legacy.pt   files that are not TorchScript
"""
import argparse
import gzip
import json
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return torch.frombuffer(bytearray(data[4 + 4 * dims:]), dtype=torch.uint8).reshape(shape)


def write_idx(path, t):
    with open(path, "wb") as f:
        f.write(bytes([0, 0, 0x08, t.dim()]))
        f.write(struct.pack(">" + "I" * t.dim(), *t.shape))
        f.write(t.contiguous().numpy().tobytes())


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        # registered in another order than forward calls them
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return F.relu(out + identity)


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(32, 10)  # registered first, called last
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8),
                                  nn.ReLU())
        self.layer1 = nn.Sequential(BasicBlock(8, 8, 1), BasicBlock(8, 8, 1))
        self.layer2 = nn.Sequential(BasicBlock(8, 16, 2), BasicBlock(16, 16, 1))
        self.layer3 = nn.Sequential(BasicBlock(16, 32, 2))
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        x = self.stem(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = torch.flatten(self.pool(x), 1)
        return self.fc(x)


# D4 as in docs/conventions.md: element 4m + r is M^m R^r; L_R = rot90(., 1, (-2, -1)), L_M =
# flip(., -2), L_{M^m R^r} = L_M^m L_R^r.
def act(x, t):
    y = torch.rot90(x, t % 4, (-2, -1))
    return torch.flip(y, (-2,)) if t >= 4 else y


def expected_values(model, x, names):
    """G-EED per named submodule and the output: cosine/euclidean equivariance (plane action,
    4-D outputs only) and invariance, averaged over the samples and the 8 elements (identity
    included, as eqnn does when the identity is one of the transforms), and the output KL."""
    model = model.double().eval()
    modules = dict(model.named_modules())
    captured = {}
    hooks = [modules[n].register_forward_hook(
        lambda m, i, o, n=n: captured.__setitem__(n, o.detach())) for n in names]
    x = x.double()
    n = x.shape[0]
    with torch.no_grad():
        logits = model(torch.cat([act(x, t) for t in range(8)]))
    for h in hooks:
        h.remove()
    captured["output"] = logits

    def cosine(a, b):
        a, b = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
        return 1 - (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-8)

    def euclidean(a, b):
        return (a - b).reshape(a.shape[0], -1).norm(dim=1)

    out = {}
    for name, y in captured.items():
        copies = [y[t * n:(t + 1) * n] for t in range(8)]
        centroid = sum(copies) / 8
        row = {}
        for dev_name, dev in (("cosine", cosine), ("euclidean", euclidean)):
            row["invariance_" + dev_name] = float(sum(dev(c, centroid).mean() for c in copies) / 8)
            if y.dim() == 4:
                row["equivariance_" + dev_name] = float(
                    sum(dev(copies[t], act(copies[0], t)).mean() for t in range(8)) / 8)
        if name == "output":
            p = [torch.softmax(c, 1) for c in copies]
            q = sum(p) / 8
            row["output_kl"] = float(sum((pk * (pk.log() - q.clamp_min(1e-12).log())).sum(1).mean()
                                         for pk in p) / 8)
        out[name] = row
    return out


def train(model, epochs):
    images = read_idx(DATA + "/train-images-idx3-ubyte.gz").float().div(255).unsqueeze(1)
    labels = read_idx(DATA + "/train-labels-idx1-ubyte.gz").long()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for epoch in range(epochs):
        perm = torch.randperm(images.shape[0])
        for b in range(0, images.shape[0], 64):
            idx = perm[b:b + 64]
            loss = F.cross_entropy(model(images[idx]), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        print("epoch", epoch + 1, "loss", float(loss))
    test = read_idx(DATA + "/t10k-images-idx3-ubyte.gz").float().div(255).unsqueeze(1)
    test_labels = read_idx(DATA + "/t10k-labels-idx1-ubyte.gz").long()
    model.eval()
    with torch.no_grad():
        acc = (model(test).argmax(1) == test_labels).float().mean()
    print("test accuracy", float(acc))
    return float(acc)


def p4_plain_convs():
    """Lifting conv (1 -> 4 fields) and group conv (4 -> 4 fields) over C4, expanded to plain
    Conv2d weights (docs/conventions.md: output channel o*4 + t uses L_{R^t} w[o]; group conv
    tw[o, t, i, s] = L_{R^t} w[o, i, (s - t) mod 4])."""
    lift_w = torch.randn(4, 1, 3, 3)
    lift = nn.Conv2d(1, 16, 3, padding=1)
    group_w = torch.randn(4, 4, 4, 3, 3) / 6
    conv = nn.Conv2d(16, 16, 3, padding=1)
    with torch.no_grad():
        lift.weight.copy_(torch.stack([torch.rot90(lift_w[o], t, (-2, -1))
                                       for o in range(4) for t in range(4)]))
        lift.bias.copy_(torch.randn(4).repeat_interleave(4))
        tw = torch.empty(4, 4, 4, 4, 3, 3)
        for o in range(4):
            for t in range(4):
                for i in range(4):
                    for s in range(4):
                        tw[o, t, i, s] = torch.rot90(group_w[o, i, (s - t) % 4], t, (-2, -1))
        conv.weight.copy_(tw.reshape(16, 16, 3, 3))
        conv.bias.copy_(torch.randn(4).repeat_interleave(4))
    return nn.Sequential(lift, nn.ReLU(), conv, nn.ReLU())


class Twice(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, x):
        return self.conv(F.relu(self.conv(x)))


class Pair(nn.Module):
    def forward(self, x):
        return x, 2 * x


class TupleModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.pair = Pair()
        self.conv = nn.Conv2d(1, 2, 3)

    def forward(self, x):
        a, b = self.pair(x)
        return self.conv(a + b)


PROBED = ["stem", "stem.0", "layer1", "layer1.0", "layer1.0.conv1", "layer1.1", "layer2.0",
          "layer2.0.conv2", "layer2.0.downsample", "layer2.1", "layer3", "layer3.0.downsample.1",
          "pool", "fc"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)

    inputs = read_idx(DATA + "/t10k-images-idx3-ubyte.gz")[:16]
    write_idx(os.path.join(HERE, "inputs-idx3-ubyte"), inputs)
    x = inputs.float().div(255).unsqueeze(1)

    model = ResNet()
    accuracy = train(model, args.epochs)
    model.eval()
    torch.jit.script(model).save(os.path.join(HERE, "resnet_scripted.pt"))
    torch.jit.trace(model, x[:2]).save(os.path.join(HERE, "resnet_traced.pt"))
    expected = {"test_accuracy": accuracy, "epochs": args.epochs, "samples": int(x.shape[0]),
                "group": "D4", "stages": expected_values(model, x, PROBED)}
    with open(os.path.join(HERE, "resnet_expected.json"), "w") as f:
        json.dump(expected, f, indent=1)

    torch.jit.script(p4_plain_convs().eval()).save(os.path.join(HERE, "p4_plain_convs.pt"))
    torch.jit.script(Twice()).save(os.path.join(HERE, "twice.pt"))
    torch.jit.script(TupleModel()).save(os.path.join(HERE, "tuple.pt"))
    small = nn.Sequential(nn.Conv2d(1, 2, 3))
    torch.save(small, os.path.join(HERE, "eager_model.pt"))
    torch.save(small.state_dict(), os.path.join(HERE, "state_dict.pt"))
    torch.save(small, os.path.join(HERE, "legacy.pt"), _use_new_zipfile_serialization=False)


if __name__ == "__main__":
    main()
