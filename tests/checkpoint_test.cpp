// Checkpoints: spec + weights round trip, atomic write, clear errors for other architectures and
// files that are not checkpoints.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>

#include "support.h"

using Catch::Contains;

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
  CHECK_FALSE(std::ifstream(path + ".tmp").good());  // written atomically: no temporary left

  eqnn::Checkpoint loaded = eqnn::load_checkpoint(path);
  CHECK(loaded.spec.to_json() == spec.to_json());
  CHECK(loaded.extra_json == R"({"epoch": 3})");
  loaded.model->eval();
  CHECK(torch::equal(loaded.model->forward(x), net->forward(x)));
  CHECK(eqnn::ModelSpec::from_json(spec.to_json()).describe() == "gcnn-p4 (3, 5, 24 fields)");

  eqnn::ModelSpec other = spec;
  other.width2 = 6;
  auto other_net = eqnn::build_model(other);
  CHECK_THROWS_WITH(eqnn::load_weights(path, other, other_net),
                    Contains("holds a different architecture: gcnn-p4 (3, 5, 24 fields)") &&
                        Contains("expected gcnn-p4 (3, 6, 24 fields)"));
  std::ofstream(path) << "garbage";
  CHECK_THROWS_WITH(eqnn::load_checkpoint(path), Contains("is not a readable checkpoint"));
  CHECK_THROWS_WITH(eqnn::load_checkpoint("/nonexistent/x.pt"),
                    Contains("cannot open '/nonexistent/x.pt'"));
  CHECK_THROWS_WITH(eqnn::ModelSpec::from_json(R"({"format": 2, "arch": "vit"})"),
                    Contains("incomplete spec"));
  // format 1 described the earlier example architectures: refused, saying why
  CHECK_THROWS_WITH(eqnn::ModelSpec::from_json(R"({"format": 1, "arch": "gcnn"})"),
                    Contains("unsupported spec format 1") && Contains("older eqnn"));
  std::remove(path.c_str());
}
