#include "atomic_file.h"

#include <c10/util/Exception.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>

namespace eqnn {
namespace io {
namespace {

std::atomic<uint64_t> temporary_counter{0};

/// Fault injection for tests (tests/fault_test.cpp): with EQNN_FAULT_PAUSE=POINT:N in the
/// environment, every atomic write says "eqnn-fault: writing TEMPORARY" on stderr when half of its
/// bytes are in the temporary and "eqnn-fault: renamed PATH" after the rename, and the N-th write
/// of the process (1-based) stops for a minute at POINT (writing or renamed), so that a test can
/// kill the process in the middle of a write or just after one.
struct FaultPause {
  std::string point;
  int64_t write = 0;
};

const FaultPause* fault_pause() {
  static const std::optional<FaultPause> pause = []() -> std::optional<FaultPause> {
    const char* v = std::getenv("EQNN_FAULT_PAUSE");
    if (!v) return std::nullopt;
    const std::string text(v);
    const size_t colon = text.find(':');
    FaultPause p{text.substr(0, colon),
                 colon == std::string::npos ? 0 : std::atoll(text.c_str() + colon + 1)};
    return p;
  }();
  return pause ? &*pause : nullptr;
}

std::atomic<int64_t> writes_so_far{0};

void fault_point(const char* point, const std::string& path, int64_t write) {
  const FaultPause* pause = fault_pause();
  if (!pause) return;
  const std::string line = std::string("eqnn-fault: ") + point + " " + path + "\n";
  if (::write(STDERR_FILENO, line.data(), line.size()) < 0) return;
  if (pause->point == point && pause->write == write) ::sleep(60);
}

[[noreturn]] void fail(const std::string& who, const std::string& what, const std::string& path,
                       int error) {
  TORCH_CHECK(false, who, ": ", what, " '", path, "' failed: ", std::strerror(error));
}

void write_all(int fd, const std::string& bytes, const std::string& who, const std::string& path) {
  const char* data = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, data, std::min<size_t>(left, size_t{1} << 30));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(who, "writing", path, errno);
    }
    data += n;
    left -= static_cast<size_t>(n);
  }
}

void sync_directory(const std::string& directory, const std::string& who) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail(who, "opening the directory", directory, errno);
  // Some file systems cannot sync a directory (EINVAL); there is nothing more to do there.
  if (::fsync(fd) != 0 && errno != EINVAL) {
    const int error = errno;
    ::close(fd);
    fail(who, "syncing the directory", directory, error);
  }
  ::close(fd);
}

void write_in_place(const std::string& path, const std::string& bytes, const std::string& who) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail(who, "opening", path, errno);
  try {
    write_all(fd, bytes, who, path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0) fail(who, "closing", path, errno);
}

}  // namespace

void write_file_atomically(const std::string& path, const std::string& bytes,
                           const std::string& who) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    TORCH_CHECK(!S_ISDIR(st.st_mode), who, ": '", path, "' is a directory");
    if (!S_ISREG(st.st_mode)) return write_in_place(path, bytes, who);
  }
  const std::filesystem::path target(path);
  const std::string directory =
      target.has_parent_path() ? target.parent_path().string() : std::string(".");
  const int64_t write = ++writes_so_far;
  std::string temporary;
  int fd = -1;
  for (int attempt = 0; fd < 0; ++attempt) {
    temporary = path + ".tmp." + std::to_string(::getpid()) + "." +
                std::to_string(temporary_counter.fetch_add(1));
    fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    // EEXIST: a temporary a dead process of the same pid left; take the next name
    if (fd < 0 && (errno != EEXIST || attempt == 100))
      fail(who, "creating the temporary", temporary, errno);
  }
  try {
    if (fault_pause()) {
      const size_t half = bytes.size() / 2;
      write_all(fd, bytes.substr(0, half), who, temporary);
      fault_point("writing", temporary, write);
      write_all(fd, bytes.substr(half), who, temporary);
    } else {
      write_all(fd, bytes, who, temporary);
    }
    if (::fsync(fd) != 0) fail(who, "syncing", temporary, errno);
    const int closed = ::close(fd);
    fd = -1;
    if (closed != 0) fail(who, "closing", temporary, errno);
    if (::rename(temporary.c_str(), path.c_str()) != 0)
      fail(who, "renaming '" + temporary + "' to", path, errno);
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(temporary.c_str());
    throw;
  }
  sync_directory(directory, who);
  fault_point("renamed", path, write);
}

}  // namespace io
}  // namespace eqnn
