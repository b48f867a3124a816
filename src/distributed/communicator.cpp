#include "eqnn/distributed/communicator.h"

#include <c10/util/Exception.h>
#if EQNN_WITH_GLOO
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <exception>
#include <limits>

namespace eqnn {
namespace distributed {
namespace {

/// e.what() without c10's backtrace.
std::string message_of(const std::exception& e) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e))
    return c10_error->what_without_backtrace();
  return e.what();
}

struct Endpoint {
  bool tcp = false;
  std::string host;  // tcp
  uint16_t port = 0;
  std::string path;  // file
};

Endpoint parse_rendezvous(const std::string& url) {
  Endpoint e;
  const std::string tcp = "tcp://", file = "file://";
  if (url.rfind(tcp, 0) == 0) {
    const std::string rest = url.substr(tcp.size());
    const size_t colon = rest.rfind(':');
    TORCH_CHECK(colon != std::string::npos && colon > 0 && colon + 1 < rest.size(),
                "eqnn::distributed: expected the rendezvous tcp://HOST:PORT, got '", url, "'");
    e.tcp = true;
    e.host = rest.substr(0, colon);
    const std::string port = rest.substr(colon + 1);
    size_t used = 0;
    long value = -1;
    try {
      value = std::stol(port, &used);
    } catch (const std::exception&) {
    }
    TORCH_CHECK(used == port.size() && value > 0 && value < 65536,
                "eqnn::distributed: expected a port in 1..65535 in the rendezvous '", url,
                "', got '", port, "'");
    e.port = static_cast<uint16_t>(value);
  } else if (url.rfind(file, 0) == 0) {
    e.path = url.substr(file.size());
    TORCH_CHECK(!e.path.empty() && e.path[0] == '/',
                "eqnn::distributed: expected the rendezvous file:///ABSOLUTE/PATH, got '", url,
                "'");
  } else {
    TORCH_CHECK(false,
                "eqnn::distributed: expected the rendezvous tcp://HOST:PORT or "
                "file:///PATH, got '",
                url, "'");
  }
  return e;
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

}  // namespace

int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  TORCH_CHECK(fd >= 0, "eqnn::distributed::free_loopback_port: cannot open a socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  TORCH_CHECK(ok, "eqnn::distributed::free_loopback_port: cannot bind 127.0.0.1:0");
  return ntohs(address.sin_port);
}

std::pair<int64_t, int64_t> shard_range(int64_t n, int64_t world_size, int64_t rank) {
  TORCH_CHECK(n >= 0 && world_size > 0 && rank >= 0 && rank < world_size,
              "eqnn::distributed::shard_range: expected n >= 0 and 0 <= rank < world size, got "
              "n = ",
              n, ", rank ", rank, " of ", world_size);
  const int64_t base = n / world_size, extra = n % world_size;
  const int64_t begin = rank * base + std::min(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

#if EQNN_WITH_GLOO
struct Communicator::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
};
struct Communicator::Pending::State {
  c10::intrusive_ptr<c10d::Work> work;
  std::string what;  // "rank r of W: all-reduce ..."
};
#else
struct Communicator::Impl {};
struct Communicator::Pending::State {
  std::string what;
};
#endif

Communicator::Pending::Pending() = default;
Communicator::Pending::~Pending() = default;
Communicator::Pending::Pending(Pending&&) noexcept = default;
Communicator::Pending& Communicator::Pending::operator=(Pending&&) noexcept = default;

void Communicator::Pending::wait() {
  if (!state_) return;
  const std::unique_ptr<State> state = std::move(state_);
#if EQNN_WITH_GLOO
  try {
    state->work->wait();
  } catch (const std::exception& e) {
    TORCH_CHECK(false, "eqnn::distributed: ", state->what,
                " failed: another rank stopped or did not arrive in time (", message_of(e), ")");
  }
#endif
}

Communicator::Communicator(const CommunicatorOptions& options) : options_(options) {
  const int64_t world = options.world_size(), rank = options.rank();
  TORCH_CHECK(world >= 1 && world <= 1024,
              "eqnn::distributed: expected a world size in 1..1024, got ", world);
  TORCH_CHECK(rank >= 0 && rank < world, "eqnn::distributed: expected a rank in 0..", world - 1,
              " for world size ", world, ", got ", rank);
  TORCH_CHECK(options.timeout_ms() > 0, "eqnn::distributed: the timeout must be positive, got ",
              options.timeout_ms(), " ms");
  if (world == 1) return;
  TORCH_CHECK(!options.rendezvous().empty(), "eqnn::distributed: world size ", world,
              " needs a rendezvous (tcp://HOST:PORT or file:///PATH)");
  const Endpoint endpoint = parse_rendezvous(options.rendezvous());
#if EQNN_WITH_GLOO
  const std::chrono::milliseconds timeout(options.timeout_ms());
  auto impl = std::make_unique<Impl>();
  try {
    if (endpoint.tcp) {
      c10d::TCPStoreOptions store_options;
      store_options.port = endpoint.port;
      store_options.isServer = rank == 0;
      store_options.numWorkers = static_cast<size_t>(world);
      store_options.waitWorkers = true;
      store_options.timeout = timeout;
      impl->store = c10::make_intrusive<c10d::TCPStore>(endpoint.host, store_options);
    } else {
      impl->store = c10::make_intrusive<c10d::FileStore>(endpoint.path, static_cast<int>(world));
      impl->store->setTimeout(timeout);
    }
    auto group_options = c10d::ProcessGroupGloo::Options::create(timeout);
    group_options->devices.push_back(
        endpoint.tcp && is_loopback(endpoint.host)
            ? c10d::ProcessGroupGloo::createDeviceForHostname(endpoint.host)
            : c10d::ProcessGroupGloo::createDefaultDevice());
    group_options->threads = 2;
    impl->group = c10::make_intrusive<c10d::ProcessGroupGloo>(
        impl->store, static_cast<int>(rank), static_cast<int>(world), group_options);
    // Every rank leaves the constructor only once every rank has its connections: otherwise a rank
    // that is done joining and then fails (or finishes) closes its end while a slower rank is
    // still connecting, and the slower rank reports a failed join instead of the real error.
    impl->group->barrier()->wait();
  } catch (const std::exception& e) {
    TORCH_CHECK(false, "eqnn::distributed: rank ", rank, " of ", world,
                " could not join the others at ", options.rendezvous(), " within ",
                options.timeout_ms(), " ms (", message_of(e), ")");
  }
  impl_ = std::move(impl);
#else
  (void)endpoint;
  TORCH_CHECK(false, "eqnn::distributed: world size ", world,
              " needs c10d with Gloo, which this build of eqnn does not have (configure it with "
              "LibTorch's c10d headers and the Gloo headers, e.g. Debian's libgloo-dev)");
#endif
}

Communicator::~Communicator() = default;

#if EQNN_WITH_GLOO

template <typename Launch>
Communicator::Pending Communicator::start(const std::string& what, Launch&& launch) {
  Pending pending;
  pending.state_ = std::make_unique<Pending::State>();
  pending.state_->what =
      "rank " + std::to_string(rank()) + " of " + std::to_string(world_size()) + ": " + what;
  try {
    pending.state_->work = launch(*impl_->group);
  } catch (const std::exception& e) {
    TORCH_CHECK(false, "eqnn::distributed: ", pending.state_->what, " failed to start (",
                message_of(e), ")");
  }
  return pending;
}

Communicator::Pending Communicator::all_reduce_sum_async(torch::Tensor tensor,
                                                         const std::string& what) {
  if (!impl_) return Pending();
  TORCH_CHECK(tensor.is_contiguous() && tensor.device().is_cpu(), "eqnn::distributed: ", what,
              " expects a contiguous CPU tensor");
  return start(what, [&](auto& group) {
    std::vector<at::Tensor> tensors{tensor};
    c10d::AllreduceOptions opts;
    opts.reduceOp = c10d::ReduceOp::SUM;
    return group.allreduce(tensors, opts);
  });
}

void Communicator::all_reduce_sum(torch::Tensor& tensor, const std::string& what) {
  if (!impl_) return;
  torch::Tensor dense = tensor.is_contiguous() ? tensor : tensor.contiguous();
  all_reduce_sum_async(dense, what).wait();
  if (!dense.is_same(tensor)) tensor.copy_(dense);
}

std::vector<torch::Tensor> Communicator::all_gather(const torch::Tensor& tensor,
                                                    const std::string& what) {
  if (!impl_) return {tensor.clone()};
  const torch::Tensor input = tensor.contiguous();
  std::vector<std::vector<at::Tensor>> outputs(1);
  for (int64_t r = 0; r < world_size(); ++r)
    outputs[0].push_back(torch::empty_like(input));
  start(what, [&](auto& group) {
    std::vector<at::Tensor> inputs{input};
    return group.allgather(outputs, inputs);
  }).wait();
  return outputs[0];
}

void Communicator::broadcast(torch::Tensor& tensor, int64_t root, const std::string& what) {
  TORCH_CHECK(root >= 0 && root < world_size(), "eqnn::distributed: ", what, ": root ", root,
              " is not a rank of ", world_size());
  if (!impl_) return;
  torch::Tensor dense = tensor.contiguous();
  start(what, [&](auto& group) {
    std::vector<at::Tensor> tensors{dense};
    c10d::BroadcastOptions opts;
    opts.rootRank = static_cast<int>(root);
    return group.broadcast(tensors, opts);
  }).wait();
  if (!dense.is_same(tensor)) tensor.copy_(dense);
}

#else  // a build without c10d: only world size 1, where every collective is the identity

Communicator::Pending Communicator::all_reduce_sum_async(torch::Tensor, const std::string&) {
  return Pending();
}

void Communicator::all_reduce_sum(torch::Tensor&, const std::string&) {}

std::vector<torch::Tensor> Communicator::all_gather(const torch::Tensor& tensor,
                                                    const std::string&) {
  return {tensor.clone()};
}

void Communicator::broadcast(torch::Tensor&, int64_t root, const std::string& what) {
  TORCH_CHECK(root >= 0 && root < world_size(), "eqnn::distributed: ", what, ": root ", root,
              " is not a rank of ", world_size());
}

#endif

void Communicator::barrier(const std::string& what) {
  if (!impl_) return;
  torch::Tensor token = torch::zeros({1});
  all_reduce_sum(token, what);
}

}  // namespace distributed
}  // namespace eqnn
