#include "eqnn/data/idx.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

namespace eqnn {
namespace data {
namespace {

struct GzCloser {
  void operator()(gzFile f) const {
    if (f) gzclose(f);
  }
};
using GzHandle = std::unique_ptr<std::remove_pointer_t<gzFile>, GzCloser>;

struct TypeInfo {
  uint8_t code;
  torch::ScalarType dtype;
  int64_t size;
};

const TypeInfo kTypes[] = {{0x08, torch::kByte, 1},  {0x09, torch::kChar, 1},
                           {0x0B, torch::kShort, 2}, {0x0C, torch::kInt, 4},
                           {0x0D, torch::kFloat, 4}, {0x0E, torch::kDouble, 8}};

/// Reads up to n bytes; returns how many were read, throwing on a gzip error.
int64_t read_bytes(gzFile f, void* out, int64_t n, const std::string& path) {
  int64_t total = 0;
  auto* p = static_cast<char*>(out);
  while (total < n) {
    const unsigned chunk = static_cast<unsigned>(std::min<int64_t>(n - total, 1 << 30));
    const int got = gzread(f, p + total, chunk);
    if (got < 0) {
      int code = 0;
      const char* message = gzerror(f, &code);
      TORCH_CHECK(false, "eqnn::data::read_idx: '", path, "' is corrupt: ", message);
    }
    if (got == 0) break;
    total += got;
  }
  return total;
}

void swap_to_host(char* data, int64_t count, int64_t size) {
  if (size == 1) return;
  for (int64_t i = 0; i < count; ++i)
    std::reverse(data + i * size, data + (i + 1) * size);
}

/// Deflate (gzip) cannot compress more than 1032:1, so a gzip file of n bytes inflates to at most
/// 1032 n bytes: a header that declares more is refused before anything is allocated.
constexpr int64_t kMaxDeflateRatio = 1032;
/// A gzip stream (or a pipe) is read in pieces of this size, so memory grows only with the data
/// that actually arrives.
constexpr int64_t kReadPiece = int64_t{64} << 20;

/// The size of a regular file, or -1 (a pipe, a device).
int64_t regular_file_size(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return -1;
  return static_cast<int64_t>(st.st_size);
}

/// Reads up to `expected` bytes in pieces, growing the buffer as they arrive; stops early at the
/// end of the stream (then *got < expected and the tensor is undefined). The tensor owns the
/// buffer.
torch::Tensor read_incrementally(gzFile f, const std::vector<int64_t>& dims,
                                 torch::ScalarType dtype, int64_t expected, const std::string& path,
                                 int64_t* got) {
  auto buffer = std::make_unique<std::vector<char>>();
  *got = 0;
  while (*got < expected) {
    const int64_t piece = std::min(kReadPiece, expected - *got);
    buffer->resize(static_cast<size_t>(*got + piece));
    const int64_t n = read_bytes(f, buffer->data() + *got, piece, path);
    *got += n;
    if (n < piece) break;
  }
  if (*got < expected) return {};
  std::vector<char>* owned = buffer.release();
  return torch::from_blob(
      owned->data(), dims, [owned](void*) { delete owned; }, torch::TensorOptions().dtype(dtype));
}

}  // namespace

torch::Tensor read_idx(const std::string& path) {
  GzHandle file(gzopen(path.c_str(), "rb"));
  TORCH_CHECK(file, "eqnn::data::read_idx: cannot open '", path, "': ", std::strerror(errno));
  unsigned char magic[4];
  TORCH_CHECK(read_bytes(file.get(), magic, 4, path) == 4, "eqnn::data::read_idx: '", path,
              "' is truncated: shorter than the 4-byte IDX header");
  TORCH_CHECK(magic[0] == 0 && magic[1] == 0, "eqnn::data::read_idx: '", path,
              "' is not an IDX file: its magic number starts with ", int(magic[0]), " ",
              int(magic[1]), " instead of 0 0");
  const TypeInfo* type = nullptr;
  for (const TypeInfo& t : kTypes)
    if (t.code == magic[2]) type = &t;
  TORCH_CHECK(type != nullptr, "eqnn::data::read_idx: '", path, "' has unknown element type 0x",
              std::hex, int(magic[2]), "; expected 0x08, 0x09, 0x0B, 0x0C, 0x0D or 0x0E");
  const int ndims = magic[3];
  TORCH_CHECK(ndims >= 1 && ndims <= 8, "eqnn::data::read_idx: '", path, "' declares ", ndims,
              " dimensions; expected 1 to 8");
  std::vector<int64_t> dims(ndims);
  int64_t count = 1;
  for (int d = 0; d < ndims; ++d) {
    unsigned char b[4];
    TORCH_CHECK(read_bytes(file.get(), b, 4, path) == 4, "eqnn::data::read_idx: '", path,
                "' is truncated in its header (size of dimension ", d, " missing)");
    dims[d] = (int64_t{b[0]} << 24) | (int64_t{b[1]} << 16) | (int64_t{b[2]} << 8) | int64_t{b[3]};
    TORCH_CHECK(dims[d] > 0, "eqnn::data::read_idx: '", path, "' has size 0 in dimension ", d);
    TORCH_CHECK(count <= kMaxIdxBytes / dims[d], "eqnn::data::read_idx: '", path,
                "' declares an implausibly large array (more than ", kMaxIdxBytes, " entries)");
    count *= dims[d];
  }
  const int64_t expected = count * type->size;
  auto check_maximum = [&] {
    TORCH_CHECK(expected <= kMaxIdxBytes, "eqnn::data::read_idx: '", path, "' declares ", expected,
                " bytes of data; this reader takes at most ", kMaxIdxBytes);
  };
  // Nothing is allocated for the data before the declared size is known to be possible: a plain
  // file must have exactly that many bytes after its header, a gzip file at most what deflate can
  // inflate its size to, and a stream is read piece by piece.
  const int64_t header = 4 + 4 * int64_t{ndims};
  const int64_t file_size = regular_file_size(path);
  const bool plain = gzdirect(file.get()) == 1;
  torch::Tensor out;
  int64_t got = 0;
  if (plain && file_size >= 0) {
    const int64_t available = file_size - header;
    TORCH_CHECK(available >= expected, "eqnn::data::read_idx: '", path,
                "' is truncated: the header declares ", expected, " bytes of data, the file has ",
                available);
    TORCH_CHECK(available == expected, "eqnn::data::read_idx: '", path,
                "' has trailing bytes after the ", expected, " bytes its header declares (",
                available, " bytes of data)");
    check_maximum();
    out = torch::empty(dims, torch::TensorOptions().dtype(type->dtype));
    got = read_bytes(file.get(), out.data_ptr(), expected, path);
  } else {
    TORCH_CHECK(plain || file_size < 0 || expected <= kMaxDeflateRatio * file_size,
                "eqnn::data::read_idx: '", path, "' declares ", expected,
                " bytes of data, more than a gzip file of ", file_size,
                " bytes can hold (deflate compresses at most ", kMaxDeflateRatio,
                ":1): its header is corrupt");
    check_maximum();
    out = read_incrementally(file.get(), dims, type->dtype, expected, path, &got);
  }
  TORCH_CHECK(got == expected, "eqnn::data::read_idx: '", path,
              "' is truncated: the header declares ", expected, " bytes of data, the file has ",
              got);
  char extra;
  TORCH_CHECK(read_bytes(file.get(), &extra, 1, path) == 0, "eqnn::data::read_idx: '", path,
              "' has trailing bytes after the ", expected, " bytes its header declares");
  swap_to_host(static_cast<char*>(out.data_ptr()), count, type->size);
  return out;
}

void write_idx(const std::string& path, const torch::Tensor& t_in, bool gzip) {
  const TypeInfo* type = nullptr;
  for (const TypeInfo& t : kTypes)
    if (t.dtype == t_in.scalar_type()) type = &t;
  TORCH_CHECK(type != nullptr, "eqnn::data::write_idx: unsupported dtype ", t_in.scalar_type());
  TORCH_CHECK(t_in.dim() >= 1 && t_in.dim() <= 8, "eqnn::data::write_idx: expected 1 to 8 dims");
  torch::Tensor t = t_in.contiguous().clone();
  swap_to_host(static_cast<char*>(t.data_ptr()), t.numel(), type->size);
  std::vector<unsigned char> header = {0, 0, type->code, static_cast<unsigned char>(t.dim())};
  for (int64_t d : t.sizes())
    for (int shift = 24; shift >= 0; shift -= 8)
      header.push_back(static_cast<unsigned char>(d >> shift));
  GzHandle file(gzopen(path.c_str(), gzip ? "wb" : "wbT"));
  TORCH_CHECK(file, "eqnn::data::write_idx: cannot open '", path, "' for writing");
  const int64_t bytes = t.numel() * type->size;
  TORCH_CHECK(gzwrite(file.get(), header.data(), static_cast<unsigned>(header.size())) ==
                      static_cast<int>(header.size()) &&
                  gzwrite(file.get(), t.data_ptr(), static_cast<unsigned>(bytes)) == bytes,
              "eqnn::data::write_idx: writing '", path, "' failed");
}

ImageDataset load_idx_images(const std::string& images_path, const std::string& labels_path,
                             int64_t limit) {
  const torch::Tensor images = read_idx(images_path);
  TORCH_CHECK(images.dim() == 3 && images.scalar_type() == torch::kByte,
              "eqnn::data::load_idx_images: '", images_path,
              "' should hold uint8 images (N, H, W), ", "got ", images.scalar_type(), " of shape ",
              images.sizes());
  int64_t n = images.size(0);
  if (limit >= 0) n = std::min(n, limit);
  ImageDataset out;
  out.images = images.narrow(0, 0, n).unsqueeze(1).to(torch::kFloat).div_(255.0);
  if (!labels_path.empty()) {
    const torch::Tensor labels = read_idx(labels_path);
    TORCH_CHECK(labels.dim() == 1 && labels.scalar_type() == torch::kByte,
                "eqnn::data::load_idx_images: '", labels_path,
                "' should hold uint8 labels (N), got ", labels.scalar_type(), " of shape ",
                labels.sizes());
    TORCH_CHECK(labels.size(0) == images.size(0), "eqnn::data::load_idx_images: '", images_path,
                "' has ", images.size(0), " images but '", labels_path, "' has ", labels.size(0),
                " labels");
    out.labels = labels.narrow(0, 0, n).to(torch::kLong);
  }
  return out;
}

}  // namespace data
}  // namespace eqnn
