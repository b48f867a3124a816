// Files written so that a reader sees either the old content or all of the new one, with every
// write checked (internal). A full disk or an I/O error is an exception naming the file, never a
// half-written file under the final name.
#pragma once

#include <string>

namespace eqnn {
namespace io {

/// Writes `bytes` to `path`: to a temporary in the same directory (path.tmp.<pid>.<n>, created
/// exclusively, so concurrent writers never share one), fsynced, renamed over `path`, then the
/// directory fsynced. On any failure the temporary is removed and the error names `who` and the
/// file. An existing non-regular `path` (a device such as /dev/null, a pipe) is written in place:
/// it is never renamed over. A directory is refused.
void write_file_atomically(const std::string& path, const std::string& bytes,
                           const std::string& who);

}  // namespace io
}  // namespace eqnn
