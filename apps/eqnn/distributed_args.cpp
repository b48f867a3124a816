#include "distributed_args.h"

#include <cmath>

#include "arg_checks.h"
#include "cli.h"

namespace eqnn_cli {

void DistributedArgs::add_to(CLI::App* command) {
  command
      ->add_option("--world-size", world_size,
                   "Number of processes working together (eqnn launch sets it)")
      ->capture_default_str()
      ->check(integer_in(1, 1024));
  command->add_option("--rank", rank, "This process's rank, 0 .. world size - 1")
      ->capture_default_str()
      ->check(integer_in(0, 1023));
  command->add_option("--rendezvous", rendezvous,
                      "Where the processes meet: tcp://HOST:PORT (rank 0 listens) or "
                      "file:///PATH (a new file every rank can reach)");
  command
      ->add_option("--timeout", timeout_s,
                   "Seconds to wait for the other processes at the rendezvous and at each "
                   "exchange before failing")
      ->capture_default_str()
      ->check(number_in(0.1, 86400));
}

void DistributedArgs::validate(const std::string& who) const {
  if (rank >= world_size)
    throw UsageError(who + ": --rank " + std::to_string(rank) + " is not below --world-size " +
                     std::to_string(world_size));
  if (world_size > 1 && rendezvous.empty())
    throw UsageError(who + ": --world-size " + std::to_string(world_size) +
                     " needs --rendezvous tcp://HOST:PORT or file:///PATH (or use eqnn launch)");
  if (world_size == 1 && !rendezvous.empty())
    throw UsageError(who + ": --rendezvous needs --world-size above 1");
}

std::shared_ptr<eqnn::distributed::Communicator> DistributedArgs::connect(
    const std::string& who) const {
  validate(who);
  return std::make_shared<eqnn::distributed::Communicator>(
      eqnn::distributed::CommunicatorOptions()
          .world_size(world_size)
          .rank(rank)
          .rendezvous(rendezvous)
          .timeout_ms(static_cast<int64_t>(std::llround(timeout_s * 1000))));
}

}  // namespace eqnn_cli
