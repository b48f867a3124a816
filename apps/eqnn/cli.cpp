#include "cli.h"

#include <c10/util/Exception.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <atomic>
#include <csignal>
#include <iostream>
#include <map>

#include "arg_checks.h"
#include "commands.h"
#include "eqnn/eqnn.h"

namespace eqnn_cli {

const char* const kExitCodesHelp =
    "Exit codes: 0 success, 1 runtime failure (missing data, I/O error, a failed check), "
    "2 usage error (bad options, refused before any work), 130 interrupted (Ctrl-C).";

namespace {

std::atomic<int> guards{0};
std::atomic<bool> interrupted{false};
static_assert(std::atomic<int>::is_always_lock_free && std::atomic<bool>::is_always_lock_free,
              "the signal handler needs lock-free atomics");

[[noreturn]] void exit_interrupted() {
  static const char message[] = "\neqnn: interrupted\n";
  const ssize_t ignored = ::write(STDERR_FILENO, message, sizeof(message) - 1);
  (void)ignored;
  ::_exit(kExitInterrupted);
}

extern "C" void on_interrupt(int) {
  if (guards.load() > 0) {
    interrupted.store(true);
    return;
  }
  exit_interrupted();
}

/// The message on one line (its line breaks become "; ").
std::string one_line(std::string message) {
  while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
    message.pop_back();
  std::string out;
  for (const char c : message)
    out += c == '\n' ? std::string("; ") : std::string(1, c);
  return out;
}

int report(const std::string& message, int code) {
  std::cout << std::flush;
  std::cerr << "eqnn: error: " << one_line(message) << "\n";
  return code;
}

}  // namespace

void install_interrupt_handler() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
}

InterruptGuard::InterruptGuard() {
  ++guards;
}

InterruptGuard::~InterruptGuard() {
  if (--guards == 0 && interrupted.load()) exit_interrupted();
}

namespace {
std::string current_command_line;
}  // namespace

const std::string& command_line() {
  return current_command_line;
}

int run(int argc, const char* const* argv) {
  current_command_line = "eqnn";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool plain =
        !arg.empty() && arg.find_first_of(" \t\n'\"\\$;&|<>*?()") == std::string::npos;
    std::string quoted = "'";
    for (char c : arg)
      quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    current_command_line += " " + (plain ? arg : quoted + "'");
  }
  CLI::App app{"eqnn " EQNN_VERSION_STRING
               ": group-equivariant layers for LibTorch, and checks of how "
               "equivariant a model really is"};
  app.require_subcommand(1);
  app.set_version_flag("--version", EQNN_VERSION_STRING);
  app.footer(kExitCodesHelp);
  int threads = 0;
  app.add_option("-j,--threads", threads,
                 "Intra-op threads (0: OMP_NUM_THREADS if set, else every hardware thread; more "
                 "than the hardware threads: capped, with a warning)")
      ->check(integer_in(0, 1 << 20));

  std::map<CLI::App*, Command> commands;
  // Each add_*_command registers one subcommand; remember which function runs it.
  auto add = [&](Command (*register_command)(CLI::App&)) {
    Command command = register_command(app);
    commands[app.get_subcommands({}).back()] = std::move(command);
  };
  add(add_demo_command);
  add(add_check_command);
  add(add_launch_command);
  add(add_probe_command);
  add(add_report_command);
  add(add_train_command);
  for (CLI::App* sub : app.get_subcommands({}))
    sub->footer(kExitCodesHelp);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // "A subcommand is required" hides the word that was meant as one: name it.
    bool chosen = false;
    for (const auto& entry : commands)
      chosen = chosen || entry.first->parsed();
    const std::vector<std::string> rest = app.remaining();
    if (!chosen && !rest.empty() && !rest.front().empty() && rest.front()[0] != '-') {
      std::string names;
      for (CLI::App* sub : app.get_subcommands({}))
        names += (names.empty() ? "" : ", ") + sub->get_name();
      return report(
          "unknown command '" + rest.front() + "'; expected one of " + names + " (eqnn --help)",
          kExitUsage);
    }
    return report(std::string(e.what()) + " (eqnn --help)", kExitUsage);
  }

  try {
    std::string warning;
    eqnn::configure_threads(threads, &warning);
    if (!warning.empty()) std::cerr << "eqnn: warning: " << warning << "\n";
    eqnn::apply_default_allocator_tuning();  // EQNN_TUNE_ALLOCATOR=0 opts out
    for (auto& [sub, command] : commands)
      if (sub->parsed()) return command();
  } catch (const UsageError& e) {
    return report(e.what(), kExitUsage);
  } catch (const c10::Error& e) {
    return report(e.what_without_backtrace(), kExitFailure);
  } catch (const std::exception& e) {
    return report(e.what(), kExitFailure);
  }
  return kExitOk;
}

int run(const std::vector<std::string>& args) {
  std::vector<const char*> argv = {"eqnn"};
  for (const std::string& a : args)
    argv.push_back(a.c_str());
  return run(static_cast<int>(argv.size()), argv.data());
}

}  // namespace eqnn_cli
