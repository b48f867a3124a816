/// \file
/// IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed: magic 0x0000 TT DD
/// (TT = element type, DD = number of dims), DD big-endian uint32 sizes, then the elements
/// big-endian. Every malformed file gives an error that names the file and what is wrong.
#pragma once

#include <torch/types.h>

#include <string>

namespace eqnn {
/// Reading and writing IDX data sets (MNIST, Fashion-MNIST).
namespace data {

/// The most data read_idx accepts: 2^36 bytes (64 GiB).
inline constexpr int64_t kMaxIdxBytes = int64_t{1} << 36;

/// Reads an IDX file (gzip detected automatically). The tensor has the file's dims and the dtype
/// of its element type: uint8, int8, int16, int32, float32 or float64. The size the header
/// declares is checked before anything is allocated for the data: a plain file must hold exactly
/// that many bytes, a gzip file may declare at most 1032x its compressed size (deflate's limit)
/// and kMaxIdxBytes in any case, and gzip streams and pipes are read in pieces (memory grows with
/// the data that arrives; a stream that ends early is an error naming the file).
torch::Tensor read_idx(const std::string& path);

/// Writes t (uint8, int8, int16, int32, float32 or float64; 1 to 8 dims) as IDX, gzip-compressed if
/// `gzip`. Used by tests and tools.
void write_idx(const std::string& path, const torch::Tensor& t, bool gzip);

/// Images and labels of a data set, as load_idx_images returns them.
struct ImageDataset {
  torch::Tensor images;  ///< (N, 1, H, W) float32 in [0, 1]
  torch::Tensor labels;  ///< (N) int64, or undefined without a labels file
};

/// Images (N, H, W) uint8 and, if labels_path is not empty, labels (N) uint8; at most `limit`
/// samples (all when limit < 0). Checks that the counts agree.
ImageDataset load_idx_images(const std::string& images_path, const std::string& labels_path,
                             int64_t limit = -1);

}  // namespace data
}  // namespace eqnn
