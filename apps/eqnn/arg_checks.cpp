#include "arg_checks.h"

#include <c10/util/Exception.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "eqnn/checkpoint.h"
#include "eqnn/group.h"

namespace eqnn_cli {
namespace {

/// The whole of `text` as a number, or false.
bool parse_integer(const std::string& text, int64_t* value) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || end != text.c_str() + text.size()) return false;
  *value = static_cast<int64_t>(v);
  return true;
}

bool parse_real(const std::string& text, double* value) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return false;
  *value = v;
  return true;
}

/// Creates and removes a file in `dir`: the honest test of writability (access() says yes to root
/// on a read-only file system).
void test_writable(const std::string& dir, const std::string& option, const std::string& who,
                   const std::string& given) {
  static std::atomic<int> counter{0};
  const std::string probe =
      (std::filesystem::path(dir) /
       (".eqnn-write-test." + std::to_string(::getpid()) + "." + std::to_string(counter++)))
          .string();
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  TORCH_CHECK(fd >= 0, who, ": ", option, " '", given, "': cannot write in '", dir,
              "': ", std::strerror(errno));
  ::close(fd);
  ::unlink(probe.c_str());
}

void make_directory(const std::filesystem::path& dir, const std::string& option,
                    const std::string& who, const std::string& given) {
  std::error_code ec;
  TORCH_CHECK(!std::filesystem::exists(dir) || std::filesystem::is_directory(dir), who, ": ",
              option, " '", given, "': '", dir.string(), "' is not a directory");
  std::filesystem::create_directories(dir, ec);
  TORCH_CHECK(!ec, who, ": ", option, " '", given, "': cannot create the directory '", dir.string(),
              "': ", ec.message());
  TORCH_CHECK(std::filesystem::is_directory(dir), who, ": ", option, " '", given, "': '",
              dir.string(), "' is not a directory");
}

}  // namespace

CLI::Validator integer_in(int64_t min, int64_t max) {
  const std::string bound = max == INT64_MAX
                                ? ">= " + std::to_string(min)
                                : "in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  return CLI::Validator(
      [min, max, bound](std::string& text) -> std::string {
        int64_t v = 0;
        if (!parse_integer(text, &v) || v < min || v > max)
          return "expected an integer " + bound + ", got '" + text + "'";
        return {};
      },
      bound);
}

CLI::Validator odd_kernel_size() {
  const int64_t max = eqnn::ModelSpec::kMaxKernelSize;
  const std::string bound = "0 (the default) or odd in [1, " + std::to_string(max) + "]";
  return CLI::Validator(
      [max, bound](std::string& text) -> std::string {
        int64_t v = 0;
        if (!parse_integer(text, &v) || v < 0 || v > max || (v > 0 && v % 2 == 0))
          return "expected " + bound + ", got '" + text + "'";
        return {};
      },
      bound);
}

CLI::Validator positive_finite() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        double v = 0;
        if (!parse_real(text, &v) || !std::isfinite(v) || v <= 0)
          return "expected a finite number > 0, got '" + text + "'";
        return {};
      },
      "> 0");
}

CLI::Validator number_in(double min, double max) {
  std::ostringstream bound;
  bound << "in [" << min << ", " << max << "]";
  return CLI::Validator(
      [min, max, bound = bound.str()](std::string& text) -> std::string {
        double v = 0;
        if (!parse_real(text, &v) || !(v >= min && v <= max))  // NaN fails both
          return "expected a number " + bound + ", got '" + text + "'";
        return {};
      },
      bound.str());
}

CLI::Validator finite_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        double v = 0;
        if (!parse_real(text, &v) || !std::isfinite(v))
          return "expected a finite number, got '" + text + "'";
        return {};
      },
      "");
}

CLI::Validator group_name() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        try {
          eqnn::Group::from_name(text);
        } catch (const c10::Error&) {
          return "unknown group '" + text +
                 "'; expected cN (N in [1, 128]), dN (N in [1, 64]), p4 (c4) or p4m (d4)";
        }
        return {};
      },
      "GROUP");
}

void prepare_output_file(const std::string& path, const std::string& option,
                         const std::string& who) {
  TORCH_CHECK(!path.empty(), who, ": ", option, " needs a file name");
  const std::filesystem::path p(path);
  TORCH_CHECK(!std::filesystem::is_directory(p), who, ": ", option, " '", path,
              "' is a directory; expected a file name");
  const std::filesystem::path dir = p.has_parent_path() ? p.parent_path() : ".";
  make_directory(dir, option, who, path);
  test_writable(dir.string(), option, who, path);
}

void prepare_output_directory(const std::string& dir, const std::string& option,
                              const std::string& who) {
  TORCH_CHECK(!dir.empty(), who, ": ", option, " needs a directory name");
  make_directory(dir, option, who, dir);
  test_writable(dir, option, who, dir);
}

}  // namespace eqnn_cli
