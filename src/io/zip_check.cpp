#include "zip_check.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <vector>

namespace eqnn {
namespace io {
namespace {

uint32_t u16(const unsigned char* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8;
}
uint32_t u32(const unsigned char* p) {
  return u16(p) | u16(p + 2) << 16;
}

/// CRC-32 of a deflated entry's inflated bytes; false if the stream is broken.
bool inflated_crc(const unsigned char* data, size_t size, uint64_t expected_size, uint32_t* crc) {
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) return false;
  z.next_in = const_cast<unsigned char*>(data);
  z.avail_in = static_cast<uInt>(size);
  std::vector<unsigned char> out(1 << 16);
  uLong c = crc32(0L, Z_NULL, 0);
  uint64_t total = 0;
  int status = Z_OK;
  while (status == Z_OK) {
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    status = inflate(&z, Z_NO_FLUSH);
    const size_t got = out.size() - z.avail_out;
    total += got;
    if (total > expected_size) break;
    c = crc32(c, out.data(), static_cast<uInt>(got));
    if (status == Z_BUF_ERROR && z.avail_in == 0) break;
  }
  inflateEnd(&z);
  *crc = static_cast<uint32_t>(c);
  return status == Z_STREAM_END && total == expected_size;
}

}  // namespace

bool is_zip_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::memcmp(magic, "PK\x03\x04", 4) == 0;
}

std::string zip_damage(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in.good()) return "it cannot be opened";
  const std::streamoff length = in.tellg();
  if (length < 0) return "it cannot be read";
  std::vector<unsigned char> bytes(static_cast<size_t>(length));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), length)) return "it cannot be read";
  const size_t n = bytes.size();
  // End of central directory: 22 bytes plus a comment of up to 65535 bytes, at the end.
  size_t eocd = std::string::npos;
  for (size_t back = 0; n >= 22 && back <= std::min<size_t>(n - 22, 65535); ++back)
    if (u32(&bytes[n - 22 - back]) == 0x06054b50) {
      eocd = n - 22 - back;
      break;
    }
  if (eocd == std::string::npos) return "no zip directory at its end";
  const uint32_t entries = u16(&bytes[eocd + 10]);
  const uint64_t dir_size = u32(&bytes[eocd + 12]), dir_offset = u32(&bytes[eocd + 16]);
  if (dir_offset == 0xFFFFFFFFu || entries == 0xFFFFu) return "";  // zip64: not checked
  if (dir_offset + dir_size > eocd) return "its zip directory points outside the file";
  size_t at = static_cast<size_t>(dir_offset);
  for (uint32_t e = 0; e < entries; ++e) {
    if (at + 46 > eocd || u32(&bytes[at]) != 0x02014b50) return "its zip directory is broken";
    const unsigned char* h = &bytes[at];
    const uint32_t method = u16(h + 10), crc = u32(h + 16);
    const uint64_t packed = u32(h + 20), size = u32(h + 24);
    const uint32_t name_len = u16(h + 28), extra_len = u16(h + 30), comment_len = u16(h + 32);
    const uint64_t local = u32(h + 42);
    if (at + 46 + name_len > eocd) return "its zip directory is broken";
    const std::string name(reinterpret_cast<const char*>(h + 46), name_len);
    at += 46 + name_len + extra_len + comment_len;
    if (packed == 0xFFFFFFFFu || size == 0xFFFFFFFFu || local == 0xFFFFFFFFu) continue;  // zip64
    if (local + 30 > n || u32(&bytes[local]) != 0x04034b50)
      return "entry '" + name + "' has no local header";
    const uint64_t data = local + 30 + u16(&bytes[local + 26]) + u16(&bytes[local + 28]);
    if (data + packed > n) return "entry '" + name + "' runs past the end of the file";
    uint32_t actual = 0;
    if (method == 0) {
      if (packed != size) return "entry '" + name + "' has inconsistent sizes";
      actual = static_cast<uint32_t>(
          crc32(crc32(0L, Z_NULL, 0), &bytes[data], static_cast<uInt>(packed)));
    } else if (method == 8) {
      if (!inflated_crc(&bytes[data], packed, size, &actual))
        return "entry '" + name + "' does not inflate";
    } else {
      continue;  // another compression method: left to the reader
    }
    if (actual != crc) return "entry '" + name + "' fails its CRC-32 check";
  }
  return "";
}

}  // namespace io
}  // namespace eqnn
