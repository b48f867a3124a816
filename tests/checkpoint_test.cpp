// Checkpoints: spec + weights round trip, atomic write, clear errors for other architectures and
// files that are not checkpoints.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "support.h"

using Catch::Contains;

namespace {

/// The temporaries (path.tmp.*) next to path.
std::vector<std::string> temporaries_of(const std::string& path) {
  const std::filesystem::path p = std::filesystem::absolute(path);
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(p.parent_path())) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(p.filename().string() + ".tmp", 0) == 0) out.push_back(name);
  }
  return out;
}

std::string contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

eqnn::ModelSpec small_spec() {
  eqnn::ModelSpec spec;
  spec.group = "p4";
  spec.input_size = 12;
  spec.width1 = 3;
  spec.width2 = 5;
  spec.width3 = 4;
  return spec;
}

}  // namespace

TEST_CASE("checkpoints round trip and reject other architectures", "[checkpoint]") {
  const std::string path = "eqnn_checkpoint_test.pt";
  eqnn::ModelSpec spec;
  spec.arch = "gcnn";
  spec.group = "p4";
  spec.input_size = 12;
  spec.width1 = 3;
  spec.width2 = 5;
  auto net = eqnn::build_model(spec);
  const torch::Tensor x = eqnn_test::randn({2, 1, 12, 12}, torch::kFloat, 1);
  net->eval();
  eqnn::save_checkpoint(path, spec, net, R"({"epoch": 3})");
  CHECK(temporaries_of(path).empty());  // written atomically: no temporary left

  eqnn::Checkpoint loaded = eqnn::load_checkpoint(path);
  CHECK(loaded.spec.to_json() == spec.to_json());
  CHECK(loaded.extra_json == R"({"epoch": 3})");
  loaded.model->eval();
  CHECK(torch::equal(loaded.model->forward(x), net->forward(x)));
  // the group is written in its canonical spelling (the one `eqnn train` writes)
  CHECK(eqnn::ModelSpec::from_json(spec.to_json()).group == "C4");
  CHECK(eqnn::ModelSpec::from_json(spec.to_json()).describe() == "gcnn-C4 (3, 5, 24 fields)");

  eqnn::ModelSpec other = spec;
  other.width2 = 6;
  auto other_net = eqnn::build_model(other);
  CHECK_THROWS_WITH(eqnn::load_weights(path, other, other_net),
                    Contains("holds a different architecture: gcnn-C4 (3, 5, 24 fields)") &&
                        Contains("expected gcnn-C4 (3, 6, 24 fields)"));
  std::ofstream(path) << "garbage";
  CHECK_THROWS_WITH(eqnn::load_checkpoint(path), Contains("is not a readable checkpoint"));
  CHECK_THROWS_WITH(eqnn::load_checkpoint("/nonexistent/x.pt"),
                    Contains("cannot open '/nonexistent/x.pt'"));
  CHECK_THROWS_WITH(eqnn::ModelSpec::from_json(R"({"format": 2, "arch": "vit"})"),
                    Contains("incomplete spec"));
  // format 1 described the earlier example architectures: refused, saying why
  CHECK_THROWS_WITH(eqnn::ModelSpec::from_json(R"({"format": 1, "arch": "gcnn"})"),
                    Contains("unsupported spec format 1") && Contains("older eqnn"));
  CHECK_THROWS_WITH(eqnn::ModelSpec::from_json(R"({"format": 5, "arch": "gcnn"})"),
                    Contains("unsupported spec format 5 (this eqnn reads formats 2 to 4)"));

  // The kernel sizes of the first convolution and of the second and third: written, read back,
  // and built; a format-2 spec (before the fields existed) means the defaults.
  for (const std::string arch : {"gcnn", "cnn"}) {
    eqnn::ModelSpec k5 = spec;
    k5.arch = arch;
    k5.group = "c8";  // steerable filters: 7 basis functions per 5x5 filter instead of 4 per 3x3
    k5.kernel_size = 5;
    k5.first_kernel_size = 7;
    auto k5_net = eqnn::build_model(k5);
    k5_net->eval();
    eqnn::save_checkpoint(path, k5, k5_net);
    eqnn::Checkpoint k5_loaded = eqnn::load_checkpoint(path);
    CHECK(k5_loaded.spec.kernel_size == 5);
    CHECK(k5_loaded.spec.first_kernel_size == 7);
    CHECK(k5_loaded.spec.describe() == (arch == "gcnn"
                                            ? "gcnn-C8 (3, 5, 24 fields, 5x5, first 7x7)"
                                            : "cnn (3, 5, 64 channels, 5x5, first 7x7)"));
    k5_loaded.model->eval();
    CHECK(torch::equal(k5_loaded.model->forward(x), k5_net->forward(x)));
    k5.kernel_size = 0;
    CHECK(eqnn::models::parameter_count(*eqnn::build_model(k5)) <
          eqnn::models::parameter_count(*k5_net));
    k5.first_kernel_size = 0;
    k5.kernel_size = 5;
    CHECK(eqnn::models::parameter_count(*eqnn::build_model(k5)) <
          eqnn::models::parameter_count(*k5_net));
    // a model of the other kernel size does not take these weights
    auto k3_net = eqnn::build_model(k5);
    CHECK_THROWS_WITH(eqnn::load_weights(path, k5, k3_net),
                      Contains("holds a different architecture"));
  }
  nlohmann::json old_format = nlohmann::json::parse(spec.to_json());
  old_format["format"] = 2;
  old_format.erase("kernel_size");
  old_format.erase("first_kernel_size");
  old_format.erase("blur");
  // a C4 G-CNN has no blur: the same spec as today's
  CHECK(eqnn::ModelSpec::from_json(old_format.dump()).to_json() == spec.to_json());
  {  // a C8 G-CNN of formats 2 and 3 was trained with the box blur
    nlohmann::json c8 = old_format;
    c8["group"] = "c8";
    CHECK(eqnn::ModelSpec::from_json(c8.dump()).blur == "box");
    c8["format"] = 3;
    c8["kernel_size"] = 5;
    c8["first_kernel_size"] = 7;
    CHECK(eqnn::ModelSpec::from_json(c8.dump()).blur == "box");
    CHECK(eqnn::ModelSpec::from_json(c8.dump()).describe() ==
          "gcnn-C8 (3, 5, 24 fields, 5x5, first 7x7, box blur)");
  }
  old_format["format"] = 3;  // format 3 requires the kernel sizes
  CHECK_THROWS_WITH(eqnn::ModelSpec::from_json(old_format.dump()), Contains("incomplete spec"));
  old_format["kernel_size"] = 0;
  old_format["first_kernel_size"] = 0;
  CHECK(eqnn::ModelSpec::from_json(old_format.dump()).blur == "binomial");
  old_format["format"] = 4;  // format 4 requires the blur
  CHECK_THROWS_WITH(eqnn::ModelSpec::from_json(old_format.dump()), Contains("incomplete spec"));
  old_format["blur"] = "gauss";
  CHECK_THROWS_WITH(eqnn::ModelSpec::from_json(old_format.dump()),
                    Contains("eqnn::ModelSpec: blur must be binomial or box, got 'gauss'"));

  // The blur: written, read back and built (a C8 G-CNN pools with antialiasing); the same weights
  // give other outputs under the other blur, and the description names the older one.
  {
    eqnn::ModelSpec binomial = spec;
    binomial.group = "c8";
    eqnn::ModelSpec box = binomial;
    box.blur = "box";
    CHECK(box.describe() == "gcnn-C8 (3, 5, 24 fields, box blur)");
    CHECK(binomial.describe() == "gcnn-C8 (3, 5, 24 fields)");
    eqnn::ModelSpec grid_box = spec;
    grid_box.blur = "box";  // the grid groups do not blur: nothing to say
    CHECK(grid_box.describe() == spec.describe());
    auto box_net = eqnn::build_model(box);
    box_net->eval();
    eqnn::save_checkpoint(path, box, box_net);
    eqnn::Checkpoint box_loaded = eqnn::load_checkpoint(path);
    CHECK(box_loaded.spec.blur == "box");
    box_loaded.model->eval();
    CHECK(torch::equal(box_loaded.model->forward(x), box_net->forward(x)));
    CHECK_THROWS_WITH(eqnn::load_weights(path, binomial, box_net),
                      Contains("holds a different architecture"));
    CHECK(box.blurs());
    CHECK_FALSE(grid_box.blurs());
    auto binomial_net = eqnn::build_model(binomial);
    {  // the same tensors
      torch::NoGradGuard no_grad;
      const auto from = box_net->named_parameters();
      for (auto& p : binomial_net->named_parameters())
        p.value().copy_(from[p.key()]);
      const auto from_buffers = box_net->named_buffers();
      for (auto& b : binomial_net->named_buffers())
        b.value().copy_(from_buffers[b.key()]);
    }
    binomial_net->eval();
    CHECK(eqnn_test::max_abs_diff(binomial_net->forward(x), box_net->forward(x)) > 1e-4);

    // a model without the blur loads whatever its spec says of it
    auto grid_net = eqnn::build_model(grid_box);
    eqnn::save_checkpoint(path, grid_box, grid_net);
    auto grid_again = eqnn::build_model(spec);
    CHECK_NOTHROW(eqnn::load_weights(path, spec, grid_again));
  }
  for (const char* field : {"kernel_size", "first_kernel_size"}) {
    for (const int64_t bad : {-1, 4, 33}) {
      nlohmann::json j = nlohmann::json::parse(spec.to_json());
      j[field] = bad;
      CHECK_THROWS_WITH(
          eqnn::ModelSpec::from_json(j.dump()),
          Contains(std::string("eqnn::ModelSpec: ") + field +
                   " must be 0 (the default) or odd in [1, 31], got " + std::to_string(bad)));
    }
  }
  std::remove(path.c_str());
}

TEST_CASE("checkpoint writes are checked, atomic and private to each writer", "[checkpoint]") {
  const std::string path = "eqnn_checkpoint_io_test.pt";
  const eqnn::ModelSpec spec = small_spec();
  auto net = eqnn::build_model(spec);
  eqnn::save_checkpoint(path, spec, net, R"({"epoch": 0})");
  const std::string good = contents(path);

  // A full disk is an exception naming the file (LibTorch's own writer aborts the process from a
  // destructor). /dev/full is a device: written in place, never renamed over.
  struct stat st;
  if (stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode)) {
    CHECK_THROWS_WITH(eqnn::save_checkpoint("/dev/full", spec, net),
                      Contains("eqnn::save_checkpoint: writing '/dev/full' failed: No space left "
                               "on device"));
    REQUIRE(stat("/dev/full", &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
    CHECK(temporaries_of("/dev/full").empty());
  } else {
    WARN("no /dev/full on this machine: the full-disk case is not exercised");
  }
  CHECK_THROWS_WITH(eqnn::save_checkpoint("/nonexistent/dir/x.pt", spec, net),
                    Contains("eqnn::save_checkpoint: creating the temporary "
                             "'/nonexistent/dir/x.pt.tmp.") &&
                        Contains("No such file or directory"));
  CHECK_THROWS_WITH(eqnn::save_checkpoint(".", spec, net),
                    Contains("eqnn::save_checkpoint: '.' is a directory"));

  // weights that diverged are not saved over the last good checkpoint
  auto bad = eqnn::build_model(spec);
  {
    torch::NoGradGuard no_grad;
    bad->parameters().front().view(-1)[0] = std::numeric_limits<float>::quiet_NaN();
  }
  CHECK_THROWS_WITH(eqnn::save_checkpoint(path, spec, bad),
                    Contains("has NaN or infinite entries; not writing '" + path + "'"));
  CHECK(contents(path) == good);
  CHECK(temporaries_of(path).empty());

  // concurrent writers of one file: each has its own temporary; the file ends up one complete
  // checkpoint of theirs
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int w = 0; w < 4; ++w)
    writers.emplace_back([&, w] {
      torch::manual_seed(static_cast<uint64_t>(w));
      auto mine = eqnn::build_model(spec);
      for (int i = 0; i < 5; ++i) {
        try {
          eqnn::save_checkpoint(path, spec, mine, "{\"writer\": " + std::to_string(w) + "}");
        } catch (const std::exception&) {
          ++failures;
        }
      }
    });
  for (auto& t : writers)
    t.join();
  CHECK(failures == 0);
  CHECK(temporaries_of(path).empty());
  const eqnn::Checkpoint last = eqnn::load_checkpoint(path);
  CHECK_THAT(last.extra_json, Contains("writer"));

  // a complete temporary that a kill between write and rename left behind is never read
  eqnn::ModelSpec other = spec;
  other.width1 = 2;
  eqnn::save_checkpoint(path + ".tmp.999999.0", other, eqnn::build_model(other));
  CHECK(eqnn::load_checkpoint(path).spec.width1 == 3);
  std::remove((path + ".tmp.999999.0").c_str());
  std::remove(path.c_str());
}

TEST_CASE("checkpoint loads validate the spec and every tensor against the model it builds",
          "[checkpoint]") {
  using eqnn::ModelSpec;
  // one canonical spelling: the default is what `eqnn train` writes; every spelling loads
  CHECK(ModelSpec().group == eqnn::Group::from_name("d4").name());
  CHECK(ModelSpec::from_json(R"({"format": 2, "arch": "gcnn", "group": "p4m", "input_size": 28,
      "in_channels": 1, "width1": 0, "width2": 0, "width3": 0, "classes": 10})")
            .to_json() == ModelSpec().to_json());
  auto spec_with = [](const std::string& field, const nlohmann::json& value) {
    nlohmann::json j = nlohmann::json::parse(ModelSpec().to_json());
    j[field] = value;
    return j.dump();
  };
  CHECK_THROWS_WITH(ModelSpec::from_json(spec_with("width1", -3)),
                    Contains("eqnn::ModelSpec: width1 must be in [0, 4096] (0: the default), "
                             "got -3"));
  CHECK_THROWS_WITH(ModelSpec::from_json(spec_with("width3", 1000000000)),
                    Contains("width3 must be in [0, 4096]"));
  CHECK_THROWS_WITH(ModelSpec::from_json(spec_with("classes", 0)),
                    Contains("classes must be in [1, 100000], got 0"));
  CHECK_THROWS_WITH(ModelSpec::from_json(spec_with("input_size", -28)),
                    Contains("input_size must be in [1, 4096], got -28"));
  CHECK_THROWS_WITH(ModelSpec::from_json(spec_with("in_channels", 0)),
                    Contains("in_channels must be in [1, 1024], got 0"));
  CHECK_THROWS_WITH(ModelSpec::from_json(spec_with("group", "q3")), Contains("unknown group 'q3'"));
  ModelSpec negative;
  negative.width2 = -1;
  CHECK_THROWS_WITH(eqnn::build_model(negative), Contains("width2 must be in [0, 4096]"));

  // archives written by hand: a spec the loader refuses, and weights of another shape
  const std::string path = "eqnn_checkpoint_validation_test.pt";
  auto write = [&](const std::string& spec_json, const torch::nn::Sequential& model) {
    torch::serialize::OutputArchive archive;
    archive.write("eqnn_spec", c10::IValue(spec_json));
    torch::serialize::OutputArchive weights;
    model->save(weights);
    archive.write("model", weights);
    archive.save_to(path);
  };
  const ModelSpec spec = small_spec();
  ModelSpec wider = spec;
  wider.width2 = 6;
  write(spec_with("width1", -3), eqnn::build_model(spec));
  CHECK_THROWS_WITH(eqnn::load_checkpoint(path),
                    Contains("eqnn::load_checkpoint: '" + path +
                             "' has an invalid architecture "
                             "spec: eqnn::ModelSpec: width1 must be in [0, 4096]"));
  write(spec.to_json(), eqnn::build_model(wider));
  CHECK_THROWS_WITH(eqnn::load_checkpoint(path),
                    Contains("eqnn::load_checkpoint: '" + path + "': parameter '") &&
                        Contains("the architecture has Float [5, 3, 4, 3, 3]"));
  ModelSpec cnn = spec;
  cnn.arch = "cnn";
  write(spec.to_json(), eqnn::build_model(cnn));  // another architecture's weights entirely
  CHECK_THROWS_WITH(eqnn::load_checkpoint(path), Contains("eqnn::load_checkpoint: '" + path + "'"));
  std::remove(path.c_str());
}

TEST_CASE("damaged archives are refused with an error naming the file, never an abort",
          "[checkpoint][probe]") {
  // Two bytes swapped inside a stored entry (found by fuzz_checkpoint): LibTorch alone aborts.
  const std::string shuffled = std::string(EQNN_TEST_DATA_DIR) + "/damaged/shuffled_checkpoint.pt";
  CHECK_THROWS_WITH(eqnn::load_checkpoint(shuffled),
                    Contains("eqnn::load_checkpoint: '" + shuffled + "' is damaged: entry '") &&
                        Contains("fails its CRC-32 check"));
  // A truncated copy: no zip directory at its end.
  const std::string whole = contents(shuffled);
  const std::string truncated = "eqnn_damaged_truncated.pt";
  std::ofstream(truncated, std::ios::binary) << whole.substr(0, whole.size() / 2);
  CHECK_THROWS_WITH(eqnn::load_checkpoint(truncated),
                    Contains("is damaged: no zip directory at its end"));
  // TorchScript files go through the same check: one byte flipped in the middle of a model.
  std::string model = contents(std::string(EQNN_TEST_DATA_DIR) + "/torchscript/resnet_scripted.pt");
  model[model.size() / 2] = static_cast<char>(model[model.size() / 2] ^ 0x20);
  const std::string flipped = "eqnn_damaged_model.pt";
  std::ofstream(flipped, std::ios::binary) << model;
  CHECK_THROWS_WITH(eqnn::probe::load_torchscript(flipped),
                    Contains("eqnn::probe: '" + flipped + "' is damaged: "));
  // the intact files still load
  CHECK_NOTHROW(eqnn::probe::load_torchscript(std::string(EQNN_TEST_DATA_DIR) +
                                              "/torchscript/resnet_scripted.pt"));
  std::remove(truncated.c_str());
  std::remove(flipped.c_str());
}
