// Subcommands of the eqnn program. Each registers its options on the CLI11 app and returns the
// function that runs it (its exit code).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace eqnn_cli {

using Command = std::function<int()>;

Command add_check_command(CLI::App& app);
Command add_demo_command(CLI::App& app);
Command add_launch_command(CLI::App& app);
Command add_probe_command(CLI::App& app);
Command add_report_command(CLI::App& app);
Command add_train_command(CLI::App& app);

}  // namespace eqnn_cli
