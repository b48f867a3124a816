// eqnn launch: W processes of one eqnn command on this machine, connected on 127.0.0.1. The
// launcher only starts and watches them: when one fails, the others get the timeout to fail on
// their own (their next exchange errors out), and are then stopped.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <thread>
#include <vector>

#include "arg_checks.h"
#include "cli.h"
#include "commands.h"
#include "eqnn/distributed/communicator.h"

namespace eqnn_cli {
namespace {

struct LaunchArgs {
  int64_t processes = 2;
  int64_t port = 0;  // 0: a free one
  int64_t threads = 0;
  double timeout_s = 120;
  std::vector<std::string> command;
};

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return kExitFailure;
}

}  // namespace

Command add_launch_command(CLI::App& app) {
  auto a = std::make_shared<LaunchArgs>();
  CLI::App* sub = app.add_subcommand(
      "launch",
      "Run an eqnn command (train or probe) as N processes on this machine, connected on "
      "127.0.0.1: eqnn launch -n 2 -- train --epochs 3 ...");
  sub->add_option("-n,--processes", a->processes, "Number of processes (ranks)")
      ->capture_default_str()
      ->check(integer_in(1, 256));
  sub->add_option("--port", a->port, "TCP port of the rendezvous on 127.0.0.1 (0: a free one)")
      ->capture_default_str()
      ->check(integer_in(0, 65535));
  sub->add_option("--threads-per-process", a->threads,
                  "Intra-op threads of each process (0: the hardware threads divided among them)")
      ->capture_default_str()
      ->check(integer_in(0, 1 << 20));
  sub->add_option("--timeout", a->timeout_s,
                  "Seconds each process waits for the others (rendezvous, exchanges), and the "
                  "launcher for the rest once one has failed")
      ->capture_default_str()
      ->check(number_in(0.1, 86400));
  sub->add_option("command", a->command, "The eqnn command and its options, after --")->required();

  return [a] {
    const std::string& name = a->command.front();
    if (name != "train" && name != "probe")
      throw UsageError("eqnn launch: runs train or probe across processes, got '" + name + "'");
    for (const std::string& arg : a->command)
      if (arg == "--world-size" || arg == "--rank" || arg == "--rendezvous")
        throw UsageError("eqnn launch: sets " + arg + " itself; leave it out of the command");
    const int64_t world = a->processes;
    const int port =
        a->port > 0 ? static_cast<int>(a->port) : eqnn::distributed::free_loopback_port();
    const int64_t hardware = std::max<int64_t>(1, std::thread::hardware_concurrency());
    const int64_t threads = a->threads > 0 ? a->threads : std::max<int64_t>(1, hardware / world);
    const std::string rendezvous = "tcp://127.0.0.1:" + std::to_string(port);
    std::cerr << "launch: " << world << " processes of 'eqnn " << name << "', " << threads
              << " thread" << (threads == 1 ? "" : "s") << " each, rendezvous " << rendezvous
              << "\n";
    std::vector<pid_t> pids;
    for (int64_t r = 0; r < world; ++r) {
      std::vector<std::string> args = {"eqnn", "-j", std::to_string(threads)};
      args.insert(args.end(), a->command.begin(), a->command.end());
      for (const std::string& extra :
           {std::string("--world-size"), std::to_string(world), std::string("--rank"),
            std::to_string(r), std::string("--rendezvous"), rendezvous, std::string("--timeout"),
            std::to_string(a->timeout_s)})
        args.push_back(extra);
      std::vector<char*> argv;
      for (std::string& s : args)
        argv.push_back(s.data());
      argv.push_back(nullptr);
      const pid_t pid = ::fork();
      if (pid < 0) {
        for (pid_t p : pids)
          ::kill(p, SIGTERM);
        throw std::runtime_error("eqnn launch: could not start process " + std::to_string(r));
      }
      if (pid == 0) {
        ::execv("/proc/self/exe", argv.data());
        std::cerr << "eqnn launch: could not run /proc/self/exe\n";
        ::_exit(127);
      }
      pids.push_back(pid);
    }
    // watch: the first failure starts the clock for the others
    using clock = std::chrono::steady_clock;
    int result = kExitOk;
    std::vector<bool> running(pids.size(), true);
    size_t left = pids.size();
    clock::time_point deadline = clock::time_point::max();
    bool terminated = false;
    while (left > 0) {
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid > 0) {
        for (size_t r = 0; r < pids.size(); ++r) {
          if (pids[r] != pid || !running[r]) continue;
          running[r] = false;
          --left;
          const int code = exit_code_of(status);
          if (code != 0) {
            std::cerr << "launch: rank " << r << " exited with code " << code << "\n";
            if (result == kExitOk) {
              result = code;
              deadline = clock::now() + std::chrono::milliseconds(
                                            static_cast<int64_t>(a->timeout_s * 1000) + 5000);
            }
          }
        }
        continue;
      }
      if (clock::now() > deadline) {
        for (size_t r = 0; r < pids.size(); ++r)
          if (running[r]) {
            std::cerr << "launch: stopping rank " << r << " (still running "
                      << (terminated ? "after SIGTERM" : "after the timeout") << ")\n";
            ::kill(pids[r], terminated ? SIGKILL : SIGTERM);
          }
        terminated = true;
        deadline = clock::now() + std::chrono::seconds(5);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return result;
  };
}

}  // namespace eqnn_cli
