// The measurement behind eqnn demo's second G-CNN (README, "The main job"): trains the example
// G-CNN (models::small_gcnn through build_model) for each given group and widths with the demo's
// recipe (Adam 3e-3, warm-up + cosine, batch 32, seed 0) on Fashion-MNIST and prints its
// parameters, training time, test accuracy upright and the mean over the rotations by 45, 135,
// 225 and 315 degrees (the demo's unseen rotations, by interpolation).
//   eqnn_rotation_model_ablation EPOCHS DATA_DIR GROUP:W1,W2,W3[:kK][:lK][:box|:plain] ...  (kK:
//   the group convolutions' kernel size, 3 by default; lK: the lifting layer's, 5 by default; box:
//   the box blur before the pools instead of the binomial one; plain: no antialiasing)
//   e.g. eqnn_rotation_model_ablation 3 /usr/share/datasets/fashion-mnist c8:6,12,24 c8:8,16,32
#include <torch/torch.h>

#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "demo_recipe.h"
#include "eqnn/eqnn.h"

namespace {

/// A model to train: the demo's G-CNN spec, and what the spec cannot say.
struct Variant {
  eqnn::ModelSpec spec;
  bool antialias = true;  // small_gcnn's default off the grid
};

/// "c8:8,16,32" -> a gcnn spec for C8 with widths 8, 16, 32, then optional ":"-separated options:
/// "k5" (the group convolutions' kernel size), "l7" (the lifting layer's), "box" (the box blur),
/// "plain" (no antialiasing before the pools); e.g. "c8:5,10,20:k5:l7".
Variant parse_variant(const std::string& text) {
  const std::string usage =
      "eqnn_rotation_model_ablation: expected GROUP:W1,W2,W3[:kK][:lK][:box|:plain] with positive "
      "widths and odd kernel sizes, got '" +
      text + "'";
  std::vector<std::string> tokens;
  std::stringstream in(text);
  for (std::string token; std::getline(in, token, ':');)
    tokens.push_back(token);
  TORCH_CHECK(tokens.size() >= 2, usage);
  Variant variant;
  eqnn::ModelSpec& spec = variant.spec;
  spec.arch = "gcnn";
  spec.group = eqnn::Group::from_name(tokens[0]).name();
  long w1 = 0, w2 = 0, w3 = 0;
  char tail = 0;
  TORCH_CHECK(std::sscanf(tokens[1].c_str(), "%ld,%ld,%ld%c", &w1, &w2, &w3, &tail) == 3 &&
                  w1 > 0 && w2 > 0 && w3 > 0,
              usage);
  spec.width1 = w1;
  spec.width2 = w2;
  spec.width3 = w3;
  for (size_t i = 2; i < tokens.size(); ++i) {
    long k = 0;
    if (tokens[i] == "plain") {
      variant.antialias = false;
    } else if (tokens[i] == "box") {
      spec.blur = "box";
    } else if (std::sscanf(tokens[i].c_str(), "k%ld%c", &k, &tail) == 1 && k > 0 && k % 2 == 1) {
      spec.kernel_size = k;
    } else if (std::sscanf(tokens[i].c_str(), "l%ld%c", &k, &tail) == 1 && k > 0 && k % 2 == 1) {
      spec.first_kernel_size = k;
    } else {
      TORCH_CHECK(false, usage);
    }
  }
  spec.validate();
  return variant;
}

/// build_model(spec), or the same G-CNN with the options the spec does not hold.
torch::nn::Sequential build_variant(const Variant& v) {
  if (v.antialias) return eqnn::build_model(v.spec);
  eqnn::models::SmallGCNNOptions o(eqnn::Group::from_name(v.spec.group), v.spec.input_size);
  o.fields1(v.spec.width1).fields2(v.spec.width2).fields3(v.spec.width3).channels_last(true);
  if (v.spec.kernel_size > 0) o.kernel_size(v.spec.kernel_size);
  if (v.spec.first_kernel_size > 0) o.lift_kernel_size(v.spec.first_kernel_size);
  return eqnn::models::small_gcnn(o.antialias(v.antialias));
}

/// The spec's description, and the pools' when plain.
std::string describe(const Variant& v) {
  return v.spec.describe() + (v.antialias ? "" : ", plain pools");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace eqnn;
  try {
    configure_threads();
    TORCH_CHECK(argc > 3,
                "usage: eqnn_rotation_model_ablation EPOCHS DATA_DIR "
                "GROUP:W1,W2,W3[:kK][:lK][:box|:plain] "
                "[...]");
    const int64_t epochs = std::stoll(argv[1]);
    const std::string dir = argv[2];
    std::vector<Variant> variants;
    for (int i = 3; i < argc; ++i)
      variants.push_back(parse_variant(argv[i]));
    const auto train = data::load_idx_images(dir + "/train-images-idx3-ubyte.gz",
                                             dir + "/train-labels-idx1-ubyte.gz");
    const auto test = data::load_idx_images(dir + "/t10k-images-idx3-ubyte.gz",
                                            dir + "/t10k-labels-idx1-ubyte.gz");
    const auto unseen = probe::rotation_transforms({45, 135, 225, 315});
    std::cout
        << train.images.size(0) << " training images, " << epochs
        << " epochs (Adam 3e-3, cosine, batch 32), " << test.images.size(0) << " test images, "
        << at::get_num_threads() << " threads\n"
        << "model                              parameters  train s  upright  unseen rotations\n";
    for (const Variant& variant : variants) {
      torch::manual_seed(0);  // the demo's default seed
      torch::nn::Sequential net = build_variant(variant);
      const double seconds = eqnn_bench::train_with_demo_recipe(net, train, epochs);
      net->eval();
      double rotated = 0;
      for (const probe::Transform& t : unseen)
        rotated += accuracy(net, test.images, test.labels, 500,
                            [&](const torch::Tensor& x) { return t.apply(x); }) /
                   static_cast<double>(unseen.size());
      std::cout << std::left << std::setw(35) << describe(variant) << std::setw(12)
                << models::parameter_count(*net) << std::fixed << std::setprecision(0)
                << std::setw(9) << seconds << std::setprecision(4) << std::setw(9)
                << accuracy(net, test.images, test.labels, 500) << rotated << std::endl;
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "eqnn_rotation_model_ablation: " << e.what() << "\n";
    return 1;
  }
}
