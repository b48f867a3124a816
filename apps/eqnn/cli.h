// The eqnn program as a function: parse, run one subcommand, map every outcome to an exit code and
// one line on stderr. main() only installs the Ctrl-C handler and calls run(); tests call run() in
// process.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace eqnn_cli {

/// Exit codes of the program (documented in `eqnn --help`).
enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,       ///< a runtime failure (missing data, I/O error, a failed check...)
  kExitUsage = 2,         ///< a usage error: bad options, refused before any work
  kExitInterrupted = 130  ///< Ctrl-C (128 + SIGINT)
};

/// The one-line text of `eqnn --help` that lists the exit codes.
extern const char* const kExitCodesHelp;

/// A command line that cannot run (conflicting or inconsistent options), found before any work:
/// exit code 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Runs the program on argv[1..argc-1]; returns its exit code. Errors go to stderr as one line
/// "eqnn: error: ..." (no C++ backtrace).
int run(int argc, const char* const* argv);
/// The same with the arguments after the program name.
int run(const std::vector<std::string>& args);

/// The command line of the run in progress ("eqnn probe -m a.pt ..."; arguments with spaces or
/// quotes shell-quoted), for the provenance of what it writes.
const std::string& command_line();

/// Ctrl-C (SIGINT) ends the program with exit code 130 and a line on stderr, at once, except
/// inside an InterruptGuard: there it waits for the guard to end (a checkpoint or report being
/// written is completed and renamed first).
void install_interrupt_handler();

class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
};

}  // namespace eqnn_cli
