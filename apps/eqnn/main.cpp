// eqnn: the command-line program (a thin shell over the library).
#include <torch/torch.h>

#include <CLI/CLI.hpp>

#include <iostream>
#include <map>

#include "commands.h"
#include "eqnn/eqnn.h"

int main(int argc, char** argv) {
  CLI::App app{"eqnn " EQNN_VERSION_STRING
               ": group-equivariant layers for LibTorch, and checks of how "
               "equivariant a model really is"};
  app.require_subcommand(1);
  app.set_version_flag("--version", EQNN_VERSION_STRING);
  int threads = 0;
  app.add_option("-j,--threads", threads,
                 "Intra-op threads (0: OMP_NUM_THREADS if set, else every hardware thread)")
      ->check(CLI::NonNegativeNumber);

  std::map<CLI::App*, eqnn_cli::Command> commands;
  // Each add_*_command registers one subcommand; remember which function runs it.
  auto add = [&](eqnn_cli::Command (*register_command)(CLI::App&)) {
    eqnn_cli::Command run = register_command(app);
    commands[app.get_subcommands({}).back()] = std::move(run);
  };
  add(eqnn_cli::add_demo_command);
  add(eqnn_cli::add_check_command);
  add(eqnn_cli::add_probe_command);
  add(eqnn_cli::add_train_command);
  CLI11_PARSE(app, argc, argv);

  if (threads > 0)
    at::set_num_threads(threads);
  else
    eqnn::configure_threads();
  eqnn::tune_allocator();
  try {
    for (auto& [sub, run] : commands)
      if (sub->parsed()) return run();
  } catch (const c10::Error& e) {
    std::cerr << "eqnn: error: " << e.what_without_backtrace() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "eqnn: error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
