/// \file
/// SHA-256 (FIPS 180-4) of bytes and of files, for the provenance of reports: which model file and
/// which data file a number was measured on.
#pragma once

#include <string>

namespace eqnn {
namespace data {

/// The SHA-256 digest of `bytes` as 64 lowercase hexadecimal digits.
std::string sha256_hex(const std::string& bytes);

/// The SHA-256 digest of the file at `path` (read in blocks) as 64 lowercase hexadecimal digits.
/// Throws, naming the path, when it cannot be read.
std::string file_sha256(const std::string& path);

}  // namespace data
}  // namespace eqnn
