// Integrity of a zip archive (internal): every stored entry is checked against the CRC-32 its
// central directory records, before LibTorch parses the archive. LibTorch 1.13's reader does not
// check them, and some damaged archives make it throw through a noexcept frame (std::terminate,
// found by fuzz/fuzz_checkpoint): a damaged file must be an error naming it, never an abort.
#pragma once

#include <string>

namespace eqnn {
namespace io {

/// Whether the file starts like a zip archive (a local file header).
bool is_zip_file(const std::string& path);

/// "" if `path` is a zip archive whose central directory is readable and whose stored
/// (uncompressed) and deflated entries match their CRC-32; otherwise what is wrong, naming the
/// entry. Entries of other methods and zip64 entries are not checked (LibTorch writes neither
/// for files below 4 GiB).
std::string zip_damage(const std::string& path);

}  // namespace io
}  // namespace eqnn
