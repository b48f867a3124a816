// The measurement behind SmallGCNNOptions::antialias (docs/equivariance_accuracy.md, "Pooling"):
// trains the C8 example G-CNN with plain pooling and with either blur before the windows on
// Fashion-MNIST and prints its test accuracy upright, rotated by 45 degrees (an element of C8, by
// interpolation), by 22.5 degrees (no element), and rotated by 45 then -45 degrees (the
// interpolation's blur alone).
//   eqnn_pooling_ablation [train_images [epochs [data_dir]]]   (defaults 20000, 2,
//                                                               /usr/share/datasets/fashion-mnist)
#include <torch/torch.h>

#include <iomanip>
#include <iostream>
#include <string>

#include "demo_recipe.h"
#include "eqnn/eqnn.h"

int main(int argc, char** argv) {
  using namespace eqnn;
  try {
    configure_threads();
    const int64_t train_images = argc > 1 ? std::stoll(argv[1]) : 20000;
    const int64_t epochs = argc > 2 ? std::stoll(argv[2]) : 2;
    const std::string dir = argc > 3 ? argv[3] : "/usr/share/datasets/fashion-mnist";
    const auto train = data::load_idx_images(dir + "/train-images-idx3-ubyte.gz",
                                             dir + "/train-labels-idx1-ubyte.gz", train_images);
    const auto test = data::load_idx_images(dir + "/t10k-images-idx3-ubyte.gz",
                                            dir + "/t10k-labels-idx1-ubyte.gz", 2000);
    const auto rotations = probe::rotation_transforms({45, 22.5, -45});
    auto rotated = [&](std::vector<size_t> which) {
      return [&rotations, which](const torch::Tensor& x) {
        torch::Tensor y = x;
        for (size_t i : which)
          y = rotations[i].apply(y);
        return y;
      };
    };
    std::cout << "C8 small_gcnn, " << train.images.size(0) << " training images, " << epochs
              << " epochs (Adam 3e-3, cosine, batch 32), " << test.images.size(0)
              << " test images, " << at::get_num_threads() << " threads\n"
              << "pooling                upright  rot 45   rot 22.5  rot 45,-45 (blur)  train s\n";
    for (const auto mode : {PoolMode::Max, PoolMode::Mean}) {
      struct Pooling {
        const char* name;  // printed before the mode ("" without antialiasing)
        bool antialias;
        Blur blur;
      };
      for (const Pooling pooling :
           {Pooling{"", false, Blur::Binomial}, Pooling{"box blur, ", true, Blur::Box},
            Pooling{"binomial blur, ", true, Blur::Binomial}}) {
        torch::manual_seed(0);
        models::SmallGCNNOptions options(Group::cyclic(8), train.images.size(-1));
        options.antialias(pooling.antialias).blur(pooling.blur);
        torch::nn::Sequential net = models::small_gcnn(options);
        if (mode == PoolMode::Mean)  // the same network with mean windows
          for (auto& child : net->children())
            if (auto* pool = child->as<SpatialPool2dImpl>()) pool->options.mode(PoolMode::Mean);
        const double seconds = eqnn_bench::train_with_demo_recipe(net, train, epochs);
        net->eval();
        const auto& x = test.images;
        const auto& y = test.labels;
        std::cout << std::left << std::setw(23) << std::string(pooling.name) + to_string(mode)
                  << std::fixed << std::setprecision(4) << std::setw(9) << accuracy(net, x, y)
                  << std::setw(9) << accuracy(net, x, y, 500, rotated({0})) << std::setw(10)
                  << accuracy(net, x, y, 500, rotated({1})) << std::setw(19)
                  << accuracy(net, x, y, 500, rotated({0, 2})) << std::setprecision(0) << seconds
                  << "\n";
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "eqnn_pooling_ablation: " << e.what() << "\n";
    return 1;
  }
}
