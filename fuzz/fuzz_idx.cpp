// libFuzzer target: the IDX reader, plain and gzip. The first byte chooses how the rest reaches
// the reader: as the file itself (raw bytes, including broken gzip streams), or gzip-compressed
// first (so that the reader's gzip path sees well-formed streams of arbitrary IDX content).
// Every input must give a tensor or a c10::Error; anything else (a crash, a sanitizer report,
// another exception type, a huge allocation) is a finding.
#include <c10/util/Exception.h>
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "eqnn/data/idx.h"
#include "memory_file.h"

namespace {

std::vector<uint8_t> gzip(const uint8_t* data, size_t size) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    std::abort();
  std::vector<uint8_t> out(deflateBound(&z, size) + 32);
  z.next_in = const_cast<uint8_t*>(data);
  z.avail_in = static_cast<uInt>(size);
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) std::abort();
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static eqnn_fuzz::MemoryFile file;
  const bool compress = data[0] & 1;
  const std::vector<uint8_t> bytes =
      compress ? gzip(data + 1, size - 1) : std::vector<uint8_t>(data + 1, data + size);
  const std::string path = file.write(bytes.data(), bytes.size());
  try {
    const auto t = eqnn::data::read_idx(path);
    if (!t.defined()) std::abort();
  } catch (const c10::Error&) {
  }
  try {  // the image loader's own checks (3 dims, uint8) on top
    const auto images = eqnn::data::load_idx_images(path, "", 8);
    if (images.images.dim() != 4) std::abort();
  } catch (const c10::Error&) {
  }
  return 0;
}
