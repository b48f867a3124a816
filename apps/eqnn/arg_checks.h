// Checks of the program's options (internal to the app): CLI11 validators with short messages
// (CLI11 2.1's own ranges print the largest double in full and let NaN through), and output
// locations made and tested for writing before any work starts.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace eqnn_cli {

/// An integer >= min (at most max).
CLI::Validator integer_in(int64_t min, int64_t max = INT64_MAX);
/// A convolution kernel size for ModelSpec::kernel_size or first_kernel_size: 0 (the default)
/// or odd in [1, ModelSpec::kMaxKernelSize].
CLI::Validator odd_kernel_size();
/// A finite number > 0 (learning rates): refuses NaN, infinities, zero and negatives.
CLI::Validator positive_finite();
/// A number in [min, max] (refuses NaN).
CLI::Validator number_in(double min, double max);
/// Any finite number (angles).
CLI::Validator finite_number();
/// A name Group::from_name accepts (cN, dN, p4, p4m, any case).
CLI::Validator group_name();

/// `path` (the value of `option`) will be written later: its directory is created if missing and
/// tested by creating and removing a file in it, and `path` must not be a directory. Throws naming
/// `who`, the option and the path.
void prepare_output_file(const std::string& path, const std::string& option,
                         const std::string& who);
/// `dir` is created if missing, must be a directory, and is tested by creating and removing a
/// file in it.
void prepare_output_directory(const std::string& dir, const std::string& option,
                              const std::string& who);

}  // namespace eqnn_cli
