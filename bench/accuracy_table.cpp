// Prints the equivariance-accuracy table of docs/equivariance_accuracy.md: for the groups with
// rotations off the pixel grid, the interpolation error per layer and for the small G-CNN, on
// band-limited inputs, against N, kernel size and input size.
//   eqnn_accuracy [cutoff [max_frequency [group]]]   (defaults 0.125 cycles per pixel, -1)
#include <iostream>
#include <string>

#include "eqnn/eqnn.h"

int main(int argc, char** argv) {
  try {
    eqnn::configure_threads();
    eqnn::InterpolationErrorOptions options;
    options.groups = {eqnn::Group::cyclic(8), eqnn::Group::dihedral(8), eqnn::Group::cyclic(16)};
    if (argc > 1) options.cutoff = std::stod(argv[1]);
    if (argc > 2) options.max_frequency = std::stoll(argv[2]);
    if (argc > 3) {  // a quick look: one group, one size
      options.groups = {eqnn::Group::from_name(argv[3])};
      options.sizes = {33};
      options.network = false;
    }
    const auto rows = eqnn::measure_interpolation_error(options, [](const auto& row) {
      std::cerr << row.group << " " << row.layer << " k=" << row.kernel_size << " size=" << row.size
                << " L2 " << row.relative_rms << "\n";
    });
    std::cout << "band-limited input, cutoff " << options.cutoff << " cycles/pixel, float64\n\n"
              << eqnn::interpolation_error_table(rows);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "eqnn_accuracy: " << e.what() << "\n";
    return 1;
  }
}
