// libFuzzer target: the checkpoint reader (its spec JSON and its tensors). The first byte chooses:
//  - even: the rest is a spec's JSON text (ModelSpec::from_json and validate);
//  - odd: the rest, up to a 0 byte, is the spec of an archive whose weights are those of a tiny
//    reference model (C4 G-CNN or plain CNN, by bit 1) with the tensors changed as the bytes
//    after the 0 say (kept, left out, another shape, another dtype, NaN), read by
//    load_checkpoint from a file;
//  - an input that starts with "PK" is a whole file for eqnn's integrity check (io::zip_damage),
//    which must say what is wrong or pass it. It is not handed on to LibTorch's archive parser
//    (the archive mode above feeds that with archives LibTorch wrote): guided by the CRC
//    comparisons, libFuzzer learns to repair the checksums, and LibTorch 1.13 aborts on some
//    archives crafted that way (std::terminate in its TorchScript type parser; see README
//    "Sanitizers, fuzzing and faults"). Damaged files are refused before that parser runs.
// Every input must load or give a c10::Error; anything else is a finding.
#include <c10/util/Exception.h>
#include <c10/util/Logging.h>
#include <torch/torch.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "../src/io/zip_check.h"
#include "eqnn/checkpoint.h"
#include "memory_file.h"

namespace {

struct Mutations {
  const uint8_t* data;
  size_t size, next = 0;
  uint8_t take() { return next < size ? data[next++] : 0; }
};

torch::Tensor mutated(const torch::Tensor& t, uint8_t m) {
  switch (m % 6) {
    case 2:
      return torch::zeros({t.numel() + 1});
    case 3:
      return t.unsqueeze(0).clone();
    case 4:
      return t.to(torch::kDouble);
    case 5:
      return t.is_floating_point() ? torch::full_like(t, NAN) : t;
    default:
      return t;
  }
}

/// Module::save's layout (parameters, buffers, then one archive per child), with mutations.
void save_mutated(const torch::nn::Module& module, torch::serialize::OutputArchive& archive,
                  Mutations& mutations) {
  for (const auto& p : module.named_parameters(/*recurse=*/false)) {
    const uint8_t m = mutations.take();
    if (m % 6 != 1) archive.write(p.key(), mutated(p.value(), m), /*is_buffer=*/false);
  }
  for (const auto& b : module.named_buffers(/*recurse=*/false)) {
    const uint8_t m = mutations.take();
    if (m % 6 != 1) archive.write(b.key(), mutated(b.value(), m), /*is_buffer=*/true);
  }
  for (const auto& child : module.named_children()) {
    torch::serialize::OutputArchive child_archive;
    save_mutated(*child.value(), child_archive, mutations);
    archive.write(child.key(), child_archive);
  }
}

const torch::nn::Sequential& reference_model(bool gcnn) {
  static const auto make = [](bool g) {
    eqnn::ModelSpec spec;
    spec.arch = g ? "gcnn" : "cnn";
    spec.group = "C4";
    spec.input_size = 8;
    spec.width1 = spec.width2 = spec.width3 = 1;
    return eqnn::build_model(spec);
  };
  static const torch::nn::Sequential models[2] = {make(false), make(true)};
  return models[gcnn ? 1 : 0];
}

/// Keeps the fuzzer fast: archives are only built for specs of small models (larger valid specs
/// are still checked by from_json in the other mode).
bool small(const eqnn::ModelSpec& s) {
  const auto w = s.resolved_widths();
  return w[0] <= 16 && w[1] <= 16 && w[2] <= 16 && s.input_size <= 64 && s.in_channels <= 4 &&
         s.classes <= 100;
}

}  // namespace

/// Most inputs are refused with a c10::Error, whose constructor symbolises a C++ backtrace by
/// default (dladdr over every frame): a third of the run time. The fuzzer needs the message only.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  c10::SetStackTraceFetcher([] { return std::string(); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static eqnn_fuzz::MemoryFile file;
  torch::NoGradGuard no_grad;
  try {
    if (size >= 2 && data[0] == 'P' && data[1] == 'K') {
      (void)eqnn::io::zip_damage(file.write(data, size));
      return 0;
    }
    if (size == 0) return 0;
    const std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
    const size_t zero = rest.find('\0');
    const std::string json = rest.substr(0, zero);
    if (data[0] % 2 == 0) {
      const eqnn::ModelSpec spec = eqnn::ModelSpec::from_json(json);
      if (spec.describe().empty()) std::abort();
      return 0;
    }
    try {  // a spec that parses must describe a small model to be built below
      if (!small(eqnn::ModelSpec::from_json(json))) return 0;
    } catch (const c10::Error&) {  // invalid: the reader must refuse it as well
    }
    Mutations mutations{reinterpret_cast<const uint8_t*>(rest.data()) + json.size(),
                        zero == std::string::npos ? 0 : rest.size() - json.size()};
    torch::serialize::OutputArchive archive;
    archive.write("eqnn_spec", c10::IValue(json));
    archive.write("eqnn_extra", c10::IValue(std::string("{}")));
    torch::serialize::OutputArchive weights;
    save_mutated(*reference_model(data[0] & 2), weights, mutations);
    archive.write("model", weights);
    std::string bytes;
    archive.save_to([&bytes](const void* p, size_t n) -> size_t {
      bytes.append(static_cast<const char*>(p), n);
      return n;
    });
    const eqnn::Checkpoint ckpt = eqnn::load_checkpoint(
        file.write(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    if (ckpt.model->parameters().empty()) std::abort();
  } catch (const c10::Error&) {
  }
  return 0;
}
