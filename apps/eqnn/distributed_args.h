// Options shared by the commands that run across processes (`eqnn train`, `eqnn probe`): who this
// process is, how many there are and where they meet. `eqnn launch` passes them to each process.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "eqnn/distributed/communicator.h"

namespace eqnn_cli {

struct DistributedArgs {
  int64_t world_size = 1;
  int64_t rank = 0;
  std::string rendezvous;  ///< tcp://HOST:PORT or file:///PATH
  double timeout_s = 120;

  void add_to(CLI::App* command);
  /// Throws UsageError, naming `who`, for inconsistent options (before any work).
  void validate(const std::string& who) const;
  /// Connects to the other ranks (world size 1: the single-process communicator), after
  /// validate().
  std::shared_ptr<eqnn::distributed::Communicator> connect(const std::string& who) const;
};

}  // namespace eqnn_cli
