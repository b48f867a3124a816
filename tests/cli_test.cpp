// The eqnn program's option checks, exit codes and output guarantees, run in process through
// eqnn_cli::run (one LibTorch load for all of them); Ctrl-C runs the program itself.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "support.h"

#ifdef EQNN_HAVE_APP
#include "cli.h"

using Catch::Contains;

namespace {

struct Outcome {
  int code;
  std::string out, err;
};

/// eqnn ARGS in process, with stdout and stderr captured.
Outcome eqnn_run(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  std::streambuf* old_out = std::cout.rdbuf(out.rdbuf());
  std::streambuf* old_err = std::cerr.rdbuf(err.rdbuf());
  int code = -1;
  try {
    code = eqnn_cli::run(args);
  } catch (...) {
    std::cout.rdbuf(old_out);
    std::cerr.rdbuf(old_err);
    throw;
  }
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  return {code, out.str(), err.str()};
}

std::string joined(const std::vector<std::string>& args) {
  std::string s = "eqnn";
  for (const auto& a : args)
    s += " " + a;
  return s;
}

/// A usage error: exit code 2, one line on stderr naming `what`, no backtrace, no huge numbers.
void check_usage_error(const std::vector<std::string>& args, const std::string& what) {
  INFO(joined(args));
  const Outcome o = eqnn_run(args);
  INFO("stderr: " << o.err);
  CHECK(o.code == eqnn_cli::kExitUsage);
  CHECK_THAT(o.err, Contains("eqnn: error: ") && Contains(what));
  CHECK(std::count(o.err.begin(), o.err.end(), '\n') == 1);
  CHECK(o.err.find("Exception raised from") == std::string::npos);
  CHECK(o.err.find("179769") == std::string::npos);  // the largest double, printed in full
}

}  // namespace

TEST_CASE("eqnn refuses bad options before any work with exit code 2 and one line naming them",
          "[cli]") {
  // --data points nowhere: an option check that came after loading would report the data instead
  const std::vector<std::string> no_data = {"--data", "/nonexistent/eqnn-data"};
  auto train = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "train");
    args.insert(args.end(), no_data.begin(), no_data.end());
    return args;
  };
  auto demo = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "demo");
    args.insert(args.end(), no_data.begin(), no_data.end());
    return args;
  };
  for (const auto& make :
       {std::function<std::vector<std::string>(std::vector<std::string>)>(train),
        std::function<std::vector<std::string>(std::vector<std::string>)>(demo)}) {
    check_usage_error(make({"--epochs", "0"}),
                      "--epochs: expected an integer in [1, 1000000], got '0'");
    check_usage_error(make({"--epochs", "-3"}), "--epochs");
    check_usage_error(make({"--batch", "0"}), "--batch: expected an integer in [1, 1048576]");
    check_usage_error(make({"--batch", "-1"}), "--batch");
    check_usage_error(make({"--lr", "nan"}), "--lr: expected a finite number > 0, got 'nan'");
    check_usage_error(make({"--lr", "-0.1"}), "--lr: expected a finite number > 0");
    check_usage_error(make({"--lr", "inf"}), "--lr");
    check_usage_error(make({"--lr", "0"}), "--lr");
    check_usage_error(make({"--train-limit", "0"}), "--train-limit: expected an integer >= 1");
    check_usage_error(make({"--test-limit", "-5"}), "--test-limit");
    check_usage_error(make({"--seed", "-1"}), "--seed");
    check_usage_error(make({"--group", "q3"}), "unknown group 'q3'");
    check_usage_error(make({"--schedule", "linear"}), "--schedule");
  }
  // one option under two names in demo and probe: --samples, and --probe-samples as its alias
  check_usage_error(demo({"--samples", "0"}), "--samples: expected an integer >= 1");
  check_usage_error(demo({"--probe-samples", "0"}), "--samples: expected an integer >= 1");
  check_usage_error({"probe", "--builtin", "cnn", "--probe-samples", "0"},
                    "--samples: expected an integer >= 1, got '0'");
  check_usage_error({"probe", "--builtin", "cnn", "--samples", "2", "--probe-samples", "3"},
                    "--samples");  // the same option given twice
  for (const char* command : {"demo", "probe"}) {
    const Outcome usage = eqnn_run({command, "--help"});
    CHECK(usage.code == 0);
    CHECK_THAT(usage.out, Contains("-n,--samples,--probe-samples"));
  }
  for (const char* name : {"--samples", "--probe-samples"}) {
    const Outcome probed = eqnn_run({"probe", "--builtin", "cnn", "--size", "12", name, "3",
                                     "--group", "c2", "--metrics", "invariance"});
    INFO(name << ": " << probed.err);
    CHECK(probed.code == 0);
    CHECK_THAT(probed.err, Contains("data: 3 random 12x12 images"));
  }
  {  // a steerable C8 G-CNN end to end: its off-grid elements are labelled in the report
    const Outcome c8 = eqnn_run({"probe", "--builtin", "gcnn", "--group", "c8", "--size", "9",
                                 "--samples", "3", "--metrics", "equivariance"});
    INFO(c8.err);
    CHECK(c8.code == 0);
    CHECK_THAT(c8.out, Contains("R^3 (interpolated)") || Contains("R (interpolated)") ||
                           Contains("R^5 (interpolated)") || Contains("R^7 (interpolated)"));
    CHECK_THAT(c8.out, Contains("gcnn-C8"));
  }
  check_usage_error(demo({"--unseen", "45,nan"}), "--unseen: expected a finite number, got 'nan'");
  check_usage_error(demo({"--rotation-group", "q8"}), "--rotation-group");
  check_usage_error(demo({"--rotation-group", "p4m"}),
                    "eqnn demo: --rotation-group p4m is the group of the first G-CNN");
  check_usage_error(demo({"--angle-step", "0"}), "--angle-step: expected a number in [1, 360]");
  check_usage_error(demo({"--angle-step", "nan"}), "--angle-step");
  check_usage_error(demo({"--curve-images", "0"}), "--curve-images: expected an integer >= 1");
  check_usage_error(train({"--width1", "-1"}), "--width1: expected an integer in [0, 4096]");
  for (const std::string option : {"--kernel-size", "--first-kernel-size"})
    for (const char* bad : {"4", "-3", "33", "five"})
      check_usage_error(train({option, bad}),
                        option + ": expected 0 (the default) or odd in [1, 31], got '" + bad + "'");
  check_usage_error(train({"--augment", "q8"}), "unknown group 'q8'");
  check_usage_error(train({"--resume"}), "eqnn train: --resume needs --checkpoint FILE");
  check_usage_error({"check", "--sizes", "1"},
                    "--sizes: expected an integer in [2, 4096], got '1'");
  check_usage_error({"check", "--groups", "q3"}, "--groups: unknown group 'q3'");
  check_usage_error({"--threads", "-1", "check"}, "--threads: expected an integer in [0, 1048576]");
  check_usage_error({"frobnicate"}, "unknown command 'frobnicate'; expected one of");
  check_usage_error({}, "A subcommand is required");

  // devices and processes
  check_usage_error({"probe", "--builtin", "cnn", "--device", "tpu"},
                    "eqnn probe: --device expects cpu, cuda or cuda:N, got 'tpu'");
  check_usage_error(train({"--device", "cuda:x"}), "expects cuda:N with N a GPU index");
  if (!torch::cuda::is_available()) {
    for (const auto& args :
         {std::vector<std::string>{"check", "--device", "cuda"},
          std::vector<std::string>{"probe", "--builtin", "cnn", "--device", "cuda:0"},
          demo({"--device", "cuda"}), train({"--device", "cuda"})})
      check_usage_error(args, "no CUDA device: this LibTorch was built without CUDA");
  } else {
    check_usage_error({"probe", "--builtin", "cnn", "--device", "cuda:4096"},
                      "--device cuda:4096: there");
  }
  check_usage_error(train({"--precision", "fp16"}),
                    "eqnn train: --precision fp16 trains on CUDA (--device cuda)");
  check_usage_error(train({"--world-size", "2"}), "--world-size 2 needs --rendezvous");
  check_usage_error(train({"--world-size", "2", "--rank", "2", "--rendezvous", "tcp://x:1"}),
                    "--rank 2 is not below --world-size 2");
  check_usage_error({"probe", "--builtin", "cnn", "--rendezvous", "tcp://127.0.0.1:1"},
                    "--rendezvous needs --world-size above 1");
  check_usage_error({"probe", "--builtin", "cnn", "--metrics", "fitted", "--world-size", "2",
                     "--rendezvous", "tcp://127.0.0.1:1"},
                    "--metrics fitted is not sharded");
  check_usage_error({"launch", "-n", "2", "--", "check"},
                    "eqnn launch: runs train or probe across processes, got 'check'");
  check_usage_error({"launch", "-n", "2", "--", "probe", "--rank", "1"},
                    "eqnn launch: sets --rank itself");

  // exit codes are in --help
  const Outcome help = eqnn_run({"--help"});
  CHECK(help.code == 0);
  CHECK_THAT(help.out, Contains("Exit codes: 0 success, 1 runtime failure") &&
                           Contains("2 usage error") && Contains("130 interrupted"));
  // a runtime failure is 1, on one line without a backtrace
  const Outcome missing = eqnn_run(train({}));
  CHECK(missing.code == eqnn_cli::kExitFailure);
  CHECK_THAT(missing.err, Contains("eqnn: error: eqnn train: data file '/nonexistent/eqnn-data/"));
  CHECK(missing.err.find("Exception raised from") == std::string::npos);
  CHECK(std::count(missing.err.begin(), missing.err.end(), '\n') ==
        2);  // + the no-checkpoint warning

  // output locations are made and checked before the data is read
  const std::string file = "eqnn_cli_test_plain_file";
  std::ofstream(file) << "x";
  const Outcome under_file = eqnn_run(train({"--checkpoint", file + "/model.pt"}));
  CHECK(under_file.code == eqnn_cli::kExitFailure);
  CHECK_THAT(under_file.err, Contains("eqnn train: --checkpoint '" + file + "/model.pt'"));
  const Outcome out_file = eqnn_run(demo({"--out", file}));
  CHECK(out_file.code == eqnn_cli::kExitFailure);
  CHECK_THAT(out_file.err,
             Contains("eqnn demo: --out '" + file + "'") && Contains("is not a directory"));
  const Outcome dir_as_file = eqnn_run(train({"--checkpoint", "."}));
  CHECK(dir_as_file.code == eqnn_cli::kExitFailure);
  CHECK_THAT(dir_as_file.err, Contains("--checkpoint '.' is a directory"));
  // a new directory for the output is created up front
  std::filesystem::remove_all("eqnn_cli_test_new_dir");
  const Outcome made = eqnn_run(demo({"--out", "eqnn_cli_test_new_dir/sub"}));
  CHECK(made.code == eqnn_cli::kExitFailure);  // the data is missing, but the directory is there
  CHECK(std::filesystem::is_directory("eqnn_cli_test_new_dir/sub"));
  CHECK(std::filesystem::is_empty("eqnn_cli_test_new_dir/sub"));  // the write test cleaned up
  std::filesystem::remove_all("eqnn_cli_test_new_dir");
  std::remove(file.c_str());
}

namespace {

/// The fields of one CSV line (RFC 4180 quoting, as Report::csv writes it).
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      fields.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  REQUIRE_FALSE(quoted);
  return fields;
}

}  // namespace

TEST_CASE(
    "eqnn probe puts several models on one report, eqnn report merges runs, eqnn train "
    "--probe-every keeps a history",
    "[cli]") {
  namespace fs = std::filesystem;
  const std::vector<std::string> dirs = {"eqnn_cli_cmp_a", "eqnn_cli_cmp_b", "eqnn_cli_cmp_c4",
                                         "eqnn_cli_cmp_merged", "eqnn_cli_history.pt-probe"};
  for (const auto& d : dirs)
    fs::remove_all(d);
  const auto read = [](const std::string& path) {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  const auto models_of = [](const nlohmann::json& report) {
    std::set<std::string> models;
    for (const auto& row : report.at("rows"))
      models.insert(row.at("model").get<std::string>());
    return models;
  };
  const std::vector<std::string> small = {"--size", "9", "-n", "4"};
  const auto probe = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "probe");
    args.insert(args.end(), small.begin(), small.end());
    return eqnn_run(args);
  };

  // two models, one report: a line per model, the provenance of each
  const Outcome both = probe({"--builtin", "cnn", "--builtin", "gcnn", "-o", dirs[0]});
  INFO(both.err);
  REQUIRE(both.code == 0);
  const nlohmann::json a = nlohmann::json::parse(read(dirs[0] + "/probe.json"));
  CHECK(models_of(a) ==
        std::set<std::string>{"cnn (16, 32, 64 channels)", "gcnn-D4 (6, 12, 24 fields)"});
  CHECK(a.at("provenance").at("cnn (16, 32, 64 channels)").at("command") ==
        "eqnn probe --builtin cnn --builtin gcnn -o " + dirs[0] + " --size 9 -n 4");
  CHECK(a.at("provenance").at("gcnn-D4 (6, 12, 24 fields)").at("seed") == "0");
  CHECK_THAT(read(dirs[0] + "/probe.html"),
             Contains("eqnn probe: cnn (16, 32, 64 channels), gcnn-D4 (6, 12, 24 fields)"));
  REQUIRE(probe({"--builtin", "cnn", "-o", dirs[1], "--seed", "3"}).code == 0);
  REQUIRE(probe({"--builtin", "cnn", "--group", "c4", "-o", dirs[2]}).code == 0);

  // eqnn report: the cnn of run b is named after its folder; the file of each model is recorded
  const Outcome merged =
      eqnn_run({"report", dirs[0] + "/probe.json", dirs[1] + "/probe.json", "--out", dirs[3]});
  INFO(merged.err);
  REQUIRE(merged.code == 0);
  CHECK_THAT(merged.err, Contains("merged 2 reports: 3 models"));
  const nlohmann::json m = nlohmann::json::parse(read(dirs[3] + "/probe.json"));
  CHECK(models_of(m) == std::set<std::string>{"cnn (16, 32, 64 channels)",
                                              "gcnn-D4 (6, 12, 24 fields)",
                                              dirs[1] + "/cnn (16, 32, 64 channels)"});
  CHECK(m.at("provenance").at(dirs[1] + "/cnn (16, 32, 64 channels)").at("report_file") ==
        dirs[1] + "/probe.json");
  CHECK(m.at("provenance").at(dirs[1] + "/cnn (16, 32, 64 channels)").at("seed") == "3");
  CHECK(m.at("rows").size() ==
        a.at("rows").size() +
            nlohmann::json::parse(read(dirs[1] + "/probe.json")).at("rows").size());
  check_usage_error({"report", dirs[0] + "/probe.json", dirs[2] + "/probe.json"},
                    "'" + dirs[2] + "/probe.json' was probed under other transforms");
  check_usage_error({"report", "eqnn_cli_no_such.json"}, "cannot read 'eqnn_cli_no_such.json'");
  const Outcome not_json = eqnn_run({"report", dirs[0] + "/probe.html"});
  CHECK(not_json.code == eqnn_cli::kExitFailure);
  CHECK_THAT(not_json.err,
             Contains("eqnn report: '" + dirs[0] + "/probe.html': ") && Contains("not JSON"));

  // train --probe-every: a probe after each epoch, kept in the checkpoint and drawn as one report
  const auto shapes = eqnn_test::shapes_dataset(24, "cli_history_shapes");
  const std::string ckpt = "eqnn_cli_history.pt";
  std::remove(ckpt.c_str());
  // a G-CNN of 2/2/2 fields of `group` trained on the shapes for `epochs`, then `extra`
  const auto train_in = [](const std::string& group, const std::string& epochs,
                           std::vector<std::string> extra) {
    std::vector<std::string> args = {"train",
                                     "--arch",
                                     "gcnn",
                                     "--group",
                                     group,
                                     "--width1",
                                     "2",
                                     "--width2",
                                     "2",
                                     "--width3",
                                     "2",
                                     "--train-images",
                                     "cli_history_shapes-images.idx",
                                     "--train-labels",
                                     "cli_history_shapes-labels.idx",
                                     "--test-images",
                                     "cli_history_shapes-images.idx",
                                     "--test-labels",
                                     "cli_history_shapes-labels.idx",
                                     "--batch",
                                     "12",
                                     "--epochs",
                                     epochs};
    args.insert(args.end(), extra.begin(), extra.end());
    return eqnn_run(args);
  };
  const auto train = [&](const std::string& epochs, std::vector<std::string> extra) {
    extra.insert(extra.begin(), {"--probe-every", "1", "--probe-samples", "6"});
    return train_in("c4", epochs, extra);
  };
  check_usage_error({"train", "--probe-every", "1"},
                    "--probe-every needs --probe-out DIR or "
                    "--checkpoint FILE");
  const Outcome trained = train("2", {"--checkpoint", ckpt});
  INFO(trained.err);
  REQUIRE(trained.code == 0);
  CHECK_THAT(trained.out, Contains("probe after epoch 1: output KL under C4 ") &&
                              Contains("probe after epoch 2: output KL under C4 "));
  const auto history_of = [&] {
    return nlohmann::json::parse(eqnn::load_checkpoint(ckpt).extra_json).at("history");
  };
  CHECK(history_of().size() == 2);
  CHECK(history_of().at(1).at("epoch") == 2);
  CHECK(!history_of().at(0).at("report").at("rows").at(0).contains("per_sample"));
  CHECK(models_of(nlohmann::json::parse(read(dirs[4] + "/probe.json"))) ==
        std::set<std::string>{"epoch 1", "epoch 2"});
  const Outcome resumed = train("3", {"--checkpoint", ckpt, "--resume"});
  REQUIRE(resumed.code == 0);
  CHECK(history_of().size() == 3);
  CHECK(models_of(nlohmann::json::parse(read(dirs[4] + "/probe.json"))) ==
        std::set<std::string>{"epoch 1", "epoch 2", "epoch 3"});
  {  // a C8 G-CNN pooled with the box blur (as before spec format 4): --resume keeps its blur
    const std::string box_ckpt = "eqnn_cli_box_blur.pt";
    eqnn::ModelSpec box;
    box.group = "C8";
    box.width1 = box.width2 = box.width3 = 2;
    box.input_size = shapes.images.size(-1);
    box.classes = std::max<int64_t>(shapes.labels.max().item<int64_t>() + 1, 2);
    box.blur = "box";
    eqnn::save_checkpoint(box_ckpt, box, eqnn::build_model(box), R"({"epoch": 0})");
    const Outcome box_resumed = train_in("c8", "2", {"--checkpoint", box_ckpt, "--resume"});
    INFO(box_resumed.err);
    REQUIRE(box_resumed.code == 0);
    CHECK_THAT(box_resumed.out, Contains("resuming gcnn-C8 (2, 2, 2 fields, box blur)"));
    CHECK(eqnn::load_checkpoint(box_ckpt).spec.blur == "box");
    std::remove(box_ckpt.c_str());
  }

  // an exactly equivariant C4 model: the latent equivariance of its stages is at rounding level
  const nlohmann::json history = history_of();  // (a temporary would die before the loop)
  for (const auto& row : history.at(2).at("report").at("rows"))
    if (row.at("metric") == "equivariance" && row.at("deviation") == "cosine" &&
        !row.at("value").is_null())
      CHECK(row.at("value").get<double>() < 1e-4);

  // models of different groups need the transforms chosen; a model given twice is refused
  check_usage_error({"probe", "-m", ckpt, "--builtin", "cnn", "--size", "12", "-n", "2"},
                    "the models have different groups (C4 and D4)");
  // with the transforms chosen they go together; the opt-in measures join the same report
  const Outcome mixed =
      eqnn_run({"probe", "-m", ckpt, "--builtin", "cnn", "--group", "d4", "--size", "12", "-n", "4",
                "--metrics", "invariance,lie,fitted", "--format", "json"});
  INFO(mixed.err);
  REQUIRE(mixed.code == 0);
  std::set<std::string> measured;
  const nlohmann::json mixed_report = nlohmann::json::parse(mixed.out);
  for (const auto& row : mixed_report.at("rows"))
    measured.insert(row.at("model").get<std::string>() + " | " +
                    row.at("metric").get<std::string>());
  for (const std::string& m : {ckpt, std::string("cnn (16, 32, 64 channels)")})
    for (const char* metric : {"invariance", "lie_derivative", "lie_attribution"})
      CHECK(measured.count(m + " | " + metric) == 1);
  CHECK(measured.count(ckpt + " [fitted permutation] | composition") == 1);
  CHECK(measured.count(ckpt + " | equivariance") == 0);  // not asked for
  const Outcome unknown = eqnn_run({"probe", "--builtin", "cnn", "--metrics", "lie,curvature"});
  CHECK(unknown.code == eqnn_cli::kExitFailure);
  CHECK_THAT(unknown.err,
             Contains("--metrics expects equivariance, invariance, output, fitted and/or lie"));
  check_usage_error({"probe", "-m", ckpt, "-m", ckpt, "-n", "2"},
                    "the model '" + ckpt + "' is given twice");
  check_usage_error({"probe", "-n", "2"}, "give a model: --model FILE");

  for (const auto& d : dirs)
    fs::remove_all(d);
  for (const char* f : {"cli_history_shapes-images.idx", "cli_history_shapes-labels.idx"})
    std::remove(f);
  std::remove(ckpt.c_str());
}

TEST_CASE("eqnn probe --format csv|json puts only the table, in that format, on stdout", "[cli]") {
  const std::vector<std::string> probe = {"probe", "--builtin", "gcnn", "--group", "p4", "--size",
                                          "12",    "--samples", "4",    "--format"};
  auto with_format = [&](const std::string& format) {
    std::vector<std::string> args = probe;
    args.push_back(format);
    return eqnn_run(args);
  };
  const Outcome text = with_format("text");
  REQUIRE(text.code == 0);
  CHECK_THAT(text.out, Contains("equivariance"));
  CHECK_THAT(text.err, Contains("data: 4 random 12x12 images"));  // status lines on stderr

  const Outcome csv = with_format("csv");
  INFO(csv.err);
  REQUIRE(csv.code == 0);
  CHECK(csv.err.find("data: 4 random") != std::string::npos);
  std::istringstream lines(csv.out);
  std::string line;
  int64_t comments = 0;  // the provenance first, as '#' lines
  while (std::getline(lines, line) && line.rfind("# ", 0) == 0)
    ++comments;
  CHECK(comments >= 8);
  CHECK_THAT(csv.out, Contains("# gcnn-C4 (6, 12, 24 fields): command: eqnn probe --builtin gcnn"));
  const std::vector<std::string> header = csv_fields(line);
  REQUIRE(header.size() > 12);
  CHECK(header[0] == "model");
  CHECK(header[6] == "value");
  CHECK(header[8] == "ci_low");
  CHECK(header[11] == "worst_element");
  int64_t rows = 0;
  while (std::getline(lines, line)) {
    INFO(line);
    const std::vector<std::string> fields = csv_fields(line);
    REQUIRE(fields.size() == header.size());
    CHECK(std::stoll(fields[1]) >= 0);    // stage_index
    CHECK_NOTHROW(std::stod(fields[6]));  // value
    CHECK_NOTHROW(std::stod(fields[8]));  // ci_low
    ++rows;
  }
  CHECK(rows > 0);

  const Outcome json = with_format("json");
  INFO(json.err);
  REQUIRE(json.code == 0);
  nlohmann::json j;
  REQUIRE_NOTHROW(j = nlohmann::json::parse(json.out));  // the whole of stdout is one document
  CHECK(j.at("samples") == 4);
  CHECK(j.at("transforms").size() == header.size() - 12);  // one "element g" column each
  CHECK(static_cast<int64_t>(j.at("rows").size()) == rows);

  check_usage_error({"probe", "--builtin", "gcnn", "--format", "xml"}, "--format");
}

TEST_CASE("eqnn prints errors raised inside layers and LibTorch on one line without a backtrace",
          "[cli]") {
  // a G-CNN for 12x12 inputs probed on 13x13 ones: its first pooling (kernel 2, stride 2) is not
  // exact there, and the layer's own TORCH_CHECK (which carries LibTorch's backtrace) says so
  eqnn::ModelSpec spec;
  spec.arch = "gcnn";
  spec.group = "p4";
  spec.input_size = 12;
  spec.width1 = spec.width2 = spec.width3 = 2;
  const std::string ckpt = "eqnn_cli_backtrace.pt";
  eqnn::save_checkpoint(ckpt, spec, eqnn::build_model(spec));
  const std::vector<std::vector<std::string>> failing = {
      {"probe", "--model", ckpt, "--size", "13", "--samples", "2"},                    // in a layer
      {"probe", "--model", ckpt, "--size", "12", "--samples", "2", "--stages", "99"},  // the probe
      {"probe", "--model", std::string(EQNN_TEST_DATA_DIR) + "/torchscript/tuple.pt", "--modules",
       "pair"}};  // capturing a TorchScript model
  for (const auto& args : failing) {
    INFO(joined(args));
    const Outcome o = eqnn_run(args);
    INFO("stderr: " << o.err);
    CHECK(o.code == eqnn_cli::kExitFailure);
    const size_t error = o.err.find("eqnn: error: ");
    REQUIRE(error != std::string::npos);
    CHECK(o.err.find('\n', error) == o.err.size() - 1);  // the error is the last line, and one
    CHECK(o.err.find("Exception raised from") == std::string::npos);
    CHECK(o.err.find("frame #") == std::string::npos);
  }
  // what a library user catching the layer's error sees: the backtrace in what(), not in
  // what_without_backtrace() (README, "Errors and exit codes")
  auto net = eqnn::build_model(spec);
  try {
    net->forward(torch::rand({1, 1, 13, 13}));
    FAIL("the inexact pooling was not refused");
  } catch (const c10::Error& e) {
    CHECK_THAT(e.what(), Contains("Exception raised from"));
    CHECK_THAT(e.what_without_backtrace(),
               !Contains("Exception raised from") && !Contains("frame #") && Contains("13"));
  }
  std::remove(ckpt.c_str());
}

TEST_CASE(
    "eqnn train warns, refuses to overwrite or to resume another recipe, and eqnn check "
    "counts one way",
    "[cli]") {
  eqnn_test::shapes_dataset(24, "cli_shapes");
  const std::string ckpt = "eqnn_cli_test.pt";
  std::remove(ckpt.c_str());
  // the options of every run below; `with` replaces or adds some (CLI11 refuses repeats)
  const std::vector<std::pair<std::string, std::string>> base = {
      {"--arch", "cnn"},
      {"--width1", "2"},
      {"--width2", "2"},
      {"--width3", "2"},
      {"--train-images", "cli_shapes-images.idx"},
      {"--train-labels", "cli_shapes-labels.idx"},
      {"--test-images", "cli_shapes-images.idx"},
      {"--test-labels", "cli_shapes-labels.idx"},
      {"--batch", "12"}};
  auto with = [&](std::vector<std::string> extra, std::vector<std::string> prefix = {}) {
    std::vector<std::string> args = prefix;
    args.push_back("train");
    for (const auto& [option, value] : base)
      if (std::find(extra.begin(), extra.end(), option) == extra.end()) {
        args.push_back(option);
        args.push_back(value);
      }
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };

  // no --checkpoint: trains, and says the model is discarded; --threads beyond the machine warns
  const Outcome discarded = eqnn_run(with({"--epochs", "1"}, {"--threads", "1000"}));
  INFO(discarded.err);
  CHECK(discarded.code == 0);
  CHECK_THAT(discarded.err, Contains("eqnn: warning: no --checkpoint: the trained model will be "
                                     "discarded") &&
                                Contains("eqnn: warning: 1000 threads requested"));
  CHECK(at::get_num_threads() == static_cast<int>(std::thread::hardware_concurrency()));

  REQUIRE(eqnn_run(with({"--epochs", "1", "--checkpoint", ckpt})).code == 0);
  // an existing checkpoint is neither overwritten nor resumed by accident
  check_usage_error(with({"--epochs", "1", "--checkpoint", ckpt}),
                    "the checkpoint '" + ckpt +
                        "' exists; pass --resume to continue it or "
                        "--force to overwrite it");
  CHECK(eqnn_run(with({"--epochs", "1", "--checkpoint", ckpt, "--force"})).code == 0);
  // resuming with another recipe is refused, naming the option
  check_usage_error(with({"--epochs", "2", "--checkpoint", ckpt, "--resume", "--lr", "0.01"}),
                    "--resume: --lr is 0.01 but '" + ckpt + "' was trained with --lr 0.003");
  check_usage_error(with({"--epochs", "2", "--checkpoint", ckpt, "--resume", "--batch", "6"}),
                    "--batch is 6");
  check_usage_error(with({"--epochs", "2", "--checkpoint", ckpt, "--resume", "--seed", "4"}),
                    "--seed is 4");
  check_usage_error(
      with({"--epochs", "2", "--checkpoint", ckpt, "--resume", "--schedule", "constant"}),
      "--schedule is constant");
  check_usage_error(
      with({"--epochs", "2", "--checkpoint", ckpt, "--resume", "--train-limit", "12"}),
      "--train-limit is 12 but '" + ckpt + "' was trained with --train-limit (all images)");
  check_usage_error(with({"--epochs", "2", "--checkpoint", ckpt, "--resume", "--augment", "d4"}),
                    "--augment is D4");
  check_usage_error(with({"--epochs", "2", "--checkpoint", ckpt, "--resume", "--width1", "3"}),
                    "--resume: --width1 is 3 but '" + ckpt + "' holds cnn (2, 2, 2 channels)");
  check_usage_error(with({"--epochs", "2", "--checkpoint", ckpt, "--resume", "--kernel-size", "5"}),
                    "--resume: --kernel-size is 5 but '" + ckpt + "' holds cnn (2, 2, 2 channels)");
  check_usage_error(
      with({"--epochs", "2", "--checkpoint", ckpt, "--resume", "--first-kernel-size", "3"}),
      "--resume: --first-kernel-size is 3 but '" + ckpt + "' holds cnn (2, 2, 2 channels)");
  check_usage_error(with({"--epochs", "1", "--checkpoint", ckpt, "--resume"}),
                    "has 1 epochs already and --epochs is 1");
  check_usage_error(with({"--epochs", "2", "--checkpoint", "eqnn_cli_none.pt", "--resume"}),
                    "--resume: the checkpoint 'eqnn_cli_none.pt' does not exist");
  const Outcome resumed = eqnn_run(with({"--epochs", "2", "--checkpoint", ckpt, "--resume"}));
  CHECK(resumed.code == 0);
  CHECK_THAT(resumed.out, Contains("resuming cnn (2, 2, 2 channels)") && Contains("at epoch 1"));
  CHECK(eqnn::load_checkpoint(ckpt).extra_json.find("\"epoch\":1") != std::string::npos);

  // eqnn check: the header and the footer count the same configurations
  const Outcome check = eqnn_run({"check", "--groups", "c2", "--sizes", "4"});
  CHECK(check.code == 0);
  const int64_t layers = static_cast<int64_t>(eqnn::self_check_layers().size());
  CHECK_THAT(check.out, Contains("check: " + std::to_string(layers) +
                                 " layer configurations x 2 dtypes x sizes {4}") &&
                            Contains("all passed: " + std::to_string(layers) + " of " +
                                     std::to_string(layers) + " layer configurations"));
  for (const char* f : {"cli_shapes-images.idx", "cli_shapes-labels.idx"})
    std::remove(f);
  std::remove(ckpt.c_str());
}
#endif

#ifdef EQNN_CLI_PATH
TEST_CASE("Ctrl-C ends eqnn with exit code 130 and one line on stderr", "[cli]") {
  const std::string log = "eqnn_cli_interrupt.log";
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, STDERR_FILENO);
    const int null = ::open("/dev/null", O_WRONLY);
    dup2(null, STDOUT_FILENO);
    // long enough to be interrupted: every group, many sizes
    execl(EQNN_CLI_PATH, EQNN_CLI_PATH, "--threads", "1", "check", "--sizes", "31", "32", "33",
          "34", "35", "36", static_cast<char*>(nullptr));
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  kill(pid, SIGINT);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  std::stringstream err;
  err << std::ifstream(log).rdbuf();
  CHECK_THAT(err.str(), Contains("eqnn: interrupted"));
  std::remove(log.c_str());
}
#endif
