// Faults around checkpoints: `eqnn train` killed (SIGKILL) in the middle of a checkpoint write,
// just after one and before the first, then resumed; and a full disk (RLIMIT_FSIZE, which makes
// write() fail as ENOSPC would, also for root) or a read-only directory, which must give a clear
// error and keep the previous checkpoint. The kill points come from the writer's fault-injection
// hook (EQNN_FAULT_PAUSE=POINT:N, src/io/atomic_file.cpp).
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "multi_process.h"
#include "support.h"

#ifdef EQNN_CLI_PATH
namespace {

namespace fs = std::filesystem;

std::string contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int count_of(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++n;
  return n;
}

std::vector<std::string> temporaries_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().filename().string().find(".tmp.") != std::string::npos)
      out.push_back(entry.path().string());
  return out;
}

struct Child {
  pid_t pid = -1;
  std::string log;
};

struct ChildOptions {
  std::string pause;            // EQNN_FAULT_PAUSE (writing:N or renamed:N), "": unset
  int64_t file_size_limit = 0;  // RLIMIT_FSIZE in bytes, 0: none
};

/// Starts `eqnn ARGS` with stderr in `log` and stdout discarded.
Child start_eqnn(const std::vector<std::string>& args, const std::string& log,
                 const ChildOptions& options = {}) {
  std::ofstream(log, std::ios::trunc).close();  // the poller must not see the last run's log
  std::cout.flush();
  std::fflush(nullptr);  // nothing buffered here is written twice by the child
  Child child{fork(), log};
  REQUIRE(child.pid >= 0);
  if (child.pid == 0) {
    if (!options.pause.empty())
      setenv("EQNN_FAULT_PAUSE", options.pause.c_str(), 1);
    else
      unsetenv("EQNN_FAULT_PAUSE");
    if (!freopen(log.c_str(), "w", stderr) || !freopen("/dev/null", "w", stdout)) _exit(126);
    if (options.file_size_limit > 0) {
      signal(SIGXFSZ, SIG_IGN);  // write() then fails with EFBIG instead of killing the process
      const rlimit limit{static_cast<rlim_t>(options.file_size_limit),
                         static_cast<rlim_t>(options.file_size_limit)};
      setrlimit(RLIMIT_FSIZE, &limit);
    }
    std::vector<char*> argv{const_cast<char*>(EQNN_CLI_PATH)};
    for (const std::string& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(EQNN_CLI_PATH, argv.data());
    _exit(127);
  }
  return child;
}

/// Waits until the child's log holds `needle` `times` times (true), or it exits first (false).
bool wait_for(const Child& child, const std::string& needle, int times) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    if (count_of(contents(child.log), needle) >= times) return true;
    int status = 0;
    if (waitpid(child.pid, &status, WNOHANG) == child.pid) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

void kill_child(const Child& child) {
  kill(child.pid, SIGKILL);
  int status = 0;
  REQUIRE(waitpid(child.pid, &status, 0) == child.pid);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
}

int finish(const Child& child) {
  int status = 0;
  REQUIRE(waitpid(child.pid, &status, 0) == child.pid);
  REQUIRE(WIFEXITED(status));
  return WEXITSTATUS(status);
}

int64_t epoch_of(const std::string& checkpoint) {
  return nlohmann::json::parse(eqnn::load_checkpoint(checkpoint).extra_json).at("epoch");
}

/// A scratch directory of its own (test cases run in parallel) with a small training set; removed
/// at the end.
struct TrainingDir {
  std::string dir;
  std::vector<std::string> data_args;
  explicit TrainingDir(const std::string& name) : dir(fs::absolute(name).string()) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    const auto data = eqnn_test::shapes_dataset(30);
    eqnn::data::write_idx(dir + "/images.idx",
                          (data.images.squeeze(1) * 255).round().to(torch::kByte), false);
    eqnn::data::write_idx(dir + "/labels.idx", data.labels.to(torch::kByte), false);
    data_args = {"--train-images", dir + "/images.idx", "--train-labels", dir + "/labels.idx",
                 "--test-images",  dir + "/images.idx", "--test-labels",  dir + "/labels.idx"};
  }
  ~TrainingDir() {
    chmod(dir.c_str(), 0755);
    fs::remove_all(dir);
  }
  std::vector<std::string> train(const std::string& checkpoint, int epochs,
                                 std::vector<std::string> extra = {}) const {
    std::vector<std::string> args{
        "--threads", "1",  "train",    "--width1", "2",
        "--width2",  "2",  "--width3", "2",        "-b",
        "10",        "-c", checkpoint, "--epochs", std::to_string(epochs)};
    args.insert(args.end(), data_args.begin(), data_args.end());
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
};

}  // namespace

TEST_CASE("eqnn train killed during, after and before a checkpoint write resumes to the same run",
          "[fault][cli]") {
  const TrainingDir t("eqnn_fault_kill_dir");
  const std::string ckpt = t.dir + "/run.pt", log = t.dir + "/train.log";
  const auto paused = [](const std::string& point) {
    ChildOptions o;
    o.pause = point;  // the writer stops there for a minute; the kill comes first
    return o;
  };

  // 1. Killed in the middle of the first write: no checkpoint yet, one partial temporary.
  kill_child([&] {
    Child c = start_eqnn(t.train(ckpt, 4), log, paused("writing:1"));
    REQUIRE(wait_for(c, "eqnn-fault: writing", 1));
    return c;
  }());
  CHECK_FALSE(fs::exists(ckpt));
  CHECK(temporaries_in(t.dir).size() == 1);

  // 2. Killed in the middle of the second write: the first checkpoint (epoch 0) is intact.
  kill_child([&] {
    Child c = start_eqnn(t.train(ckpt, 4, {"--force"}), log, paused("writing:2"));
    REQUIRE(wait_for(c, "eqnn-fault: writing", 2));
    return c;
  }());
  REQUIRE(fs::exists(ckpt));
  CHECK(epoch_of(ckpt) == 0);

  // 3. Resumed, and killed just after the next checkpoint is in place (epoch 1).
  kill_child([&] {
    Child c = start_eqnn(t.train(ckpt, 4, {"--resume"}), log, paused("renamed:1"));
    REQUIRE(wait_for(c, "eqnn-fault: renamed", 1));
    return c;
  }());
  CHECK(epoch_of(ckpt) == 1);

  // 4. Resumed to the end; the result equals an uninterrupted run bit for bit.
  REQUIRE(finish(start_eqnn(t.train(ckpt, 4, {"--resume"}), log)) == 0);
  CHECK(epoch_of(ckpt) == 3);
  const std::string straight = t.dir + "/straight.pt";
  REQUIRE(finish(start_eqnn(t.train(straight, 4), log)) == 0);
  const auto resumed = eqnn::load_checkpoint(ckpt).model->named_parameters();
  const auto reference = eqnn::load_checkpoint(straight).model->named_parameters();
  REQUIRE(resumed.size() == reference.size());
  for (const auto& p : reference)
    CHECK(torch::equal(resumed[p.key()], p.value()));
  // the partial temporaries of the two writers killed mid-write are left (never read)
  CHECK(temporaries_in(t.dir).size() == 2);
}

TEST_CASE("a full disk or a read-only directory fails clearly and keeps the previous checkpoint",
          "[fault][cli]") {
  const TrainingDir t("eqnn_fault_full_dir");
  const std::string ckpt = t.dir + "/run.pt", log = t.dir + "/train.log";
  REQUIRE(finish(start_eqnn(t.train(ckpt, 1), log)) == 0);
  const std::string before = contents(ckpt);
  REQUIRE(before.size() > 4096);

  // Full: no file may grow beyond half a checkpoint (the log stays far below that).
  ChildOptions full;
  full.file_size_limit = static_cast<int64_t>(before.size() / 2);
  CHECK(finish(start_eqnn(t.train(ckpt, 2, {"--resume"}), log, full)) == 1);
  const std::string err = contents(log);
  INFO(err);
  CHECK_THAT(err,
             Catch::Contains("eqnn: error: eqnn::save_checkpoint: writing '" + ckpt + ".tmp.") &&
                 Catch::Contains("File too large"));
  CHECK(contents(ckpt) == before);
  CHECK(temporaries_in(t.dir).empty());  // the failed temporary is removed
  CHECK(epoch_of(ckpt) == 0);

  // Read-only: refused before any work (root writes anyway: then only the full disk is tested).
  if (geteuid() != 0) {
    const std::string ro = t.dir + "/ro";
    fs::create_directories(ro);
    fs::copy_file(ckpt, ro + "/run.pt");
    chmod(ro.c_str(), 0555);
    CHECK(finish(start_eqnn(t.train(ro + "/run.pt", 2, {"--resume"}), log)) != 0);
    CHECK_THAT(contents(log), Catch::Contains(ro));
    CHECK(contents(ro + "/run.pt") == before);
    chmod(ro.c_str(), 0755);
  } else {
    WARN("running as root: a read-only directory cannot be simulated; the full disk was tested");
  }
}
TEST_CASE("eqnn train --sync-bn on 2 processes trains the single process's model",
          "[cli][distributed]") {
  EQNN_REQUIRE_MULTI_PROCESS();
  const TrainingDir t("eqnn_sync_bn_dir");
  const std::string one = t.dir + "/one.pt", two = t.dir + "/two.pt";
  CHECK(finish(start_eqnn(t.train(one, 2), t.dir + "/one.log")) == 0);
  const std::string rendezvous =
      "tcp://127.0.0.1:" + std::to_string(eqnn::distributed::free_loopback_port());
  std::vector<Child> ranks;
  for (int rank = 0; rank < 2; ++rank)
    ranks.push_back(
        start_eqnn(t.train(two, 2,
                           {"--sync-bn", "--world-size", "2", "--rank", std::to_string(rank),
                            "--rendezvous", rendezvous, "--timeout", "60"}),
                   t.dir + "/rank" + std::to_string(rank) + ".log"));
  for (const Child& rank : ranks)
    CHECK(finish(rank) == 0);
  // the p4m G-CNN (with its group batch norms) from both runs: the same weights to float32
  // rounding (the ranks' half batches sum their convolutions in another order). Left out: the
  // biases of the three convolutions, each followed by a batch norm that removes them, so their
  // gradient is 0 up to rounding, which Adam turns into steps of lr * noise / (|noise| + eps).
  const auto weights = [](const std::string& path) {
    const eqnn::Checkpoint c = eqnn::load_checkpoint(path);
    torch::nn::Sequential model = eqnn::build_model(c.spec);
    eqnn::load_weights(path, c.spec, model);
    std::vector<torch::Tensor> flat;
    for (const auto& p : model->named_parameters())
      if (p.key() != "0.bias" && p.key() != "4.bias" && p.key() != "8.bias")
        flat.push_back(p.value().detach().flatten());
    return torch::cat(flat);
  };
  const torch::Tensor a = weights(one), b = weights(two);
  REQUIRE(a.sizes() == b.sizes());
  INFO("largest difference " << (a - b).abs().max().item<double>());
  CHECK(torch::allclose(a, b, 1e-4, 1e-5));
}

TEST_CASE(
    "a rank killed mid-run ends the others with an error, and the checkpoint resumes at "
    "the same world size only",
    "[fault][cli][distributed]") {
  EQNN_REQUIRE_MULTI_PROCESS();
  const TrainingDir t("eqnn_fault_rank_dir");
  const std::string ckpt = t.dir + "/run.pt";
  std::string rendezvous;
  const auto rank_args = [&](int rank, int epochs, std::vector<std::string> extra) {
    std::vector<std::string> args = t.train(ckpt, epochs, std::move(extra));
    for (const std::string& a :
         {std::string("--world-size"), std::string("2"), std::string("--rank"),
          std::to_string(rank), std::string("--rendezvous"), rendezvous, std::string("--timeout"),
          std::string("10")})
      args.push_back(a);
    return args;
  };
  ChildOptions announce;
  announce.pause = "writing:1000000";  // the writer announces each write, never stops
  rendezvous = "tcp://127.0.0.1:" + std::to_string(eqnn::distributed::free_loopback_port());
  Child rank0 = start_eqnn(rank_args(0, 400, {}), t.dir + "/rank0.log", announce);
  Child rank1 = start_eqnn(rank_args(1, 400, {}), t.dir + "/rank1.log");
  // once rank 0 has written its first checkpoint, rank 1 dies in the middle of the run
  REQUIRE(wait_for(rank0, "eqnn-fault: renamed", 1));
  const auto killed = std::chrono::steady_clock::now();
  kill_child(rank1);
  CHECK(finish(rank0) == 1);
  CHECK(std::chrono::steady_clock::now() - killed < std::chrono::seconds(30));
  const std::string log0 = contents(t.dir + "/rank0.log");
  CHECK_THAT(log0, Catch::Contains("eqnn: error: eqnn::distributed: rank 0 of 2: ") &&
                       Catch::Contains("another rank stopped or did not arrive in time"));
  // the last checkpoint is whole and resumes with 2 processes, not with 1
  const int64_t epoch = epoch_of(ckpt);
  CHECK(epoch >= 0);
  Child alone =
      start_eqnn(t.train(ckpt, static_cast<int>(epoch) + 3, {"--resume"}), t.dir + "/alone.log");
  CHECK(finish(alone) == 2);
  CHECK_THAT(contents(t.dir + "/alone.log"),
             Catch::Contains("was trained by 2 processes and this run has --world-size 1"));
  rendezvous = "tcp://127.0.0.1:" + std::to_string(eqnn::distributed::free_loopback_port());
  Child again0 =
      start_eqnn(rank_args(0, static_cast<int>(epoch) + 3, {"--resume"}), t.dir + "/again0.log");
  Child again1 =
      start_eqnn(rank_args(1, static_cast<int>(epoch) + 3, {"--resume"}), t.dir + "/again1.log");
  CHECK(finish(again0) == 0);
  CHECK(finish(again1) == 0);
  CHECK(epoch_of(ckpt) == epoch + 2);
  // and with the batch-norm mode it was trained with only (refused before the rendezvous)
  Child synced = start_eqnn(rank_args(0, static_cast<int>(epoch) + 4, {"--resume", "--sync-bn"}),
                            t.dir + "/synced.log");
  CHECK(finish(synced) == 2);
  CHECK_THAT(contents(t.dir + "/synced.log"),
             Catch::Contains("was trained without --sync-bn: resume it without --sync-bn"));
}

#endif
