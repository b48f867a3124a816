// eqnn demo end to end on a small generated IDX data set: the three models train, the report has
// every field with sane values, the G-CNN is invariant where it must be, and the checkpoints it
// writes reproduce the reported accuracies.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support.h"

#ifdef EQNN_CLI_PATH
TEST_CASE("eqnn demo trains, evaluates and probes three models and writes its reports",
          "[demo][cli]") {
  const auto data = eqnn_test::shapes_dataset(36, "demo_shapes");
  const std::string out = "demo_test_out";
  std::filesystem::remove_all(out);
  const std::string cmd = std::string(EQNN_CLI_PATH) +
                          " --threads 1 demo --train-images demo_shapes-images.idx"
                          " --train-labels demo_shapes-labels.idx"
                          " --test-images demo_shapes-images.idx"
                          " --test-labels demo_shapes-labels.idx"
                          " --epochs 1 --batch 12 --probe-samples 9 --unseen 45 -o " +
                          out + " > demo_test.log 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);

  std::ifstream in(out + "/demo.json");
  REQUIRE(in.good());
  const nlohmann::json j = nlohmann::json::parse(in);
  CHECK(j.at("group") == "D4");
  CHECK(j.at("data").at("train_images") == 36);
  CHECK(j.at("data").at("probe_samples") == 9);
  CHECK(j.at("recipe").at("epochs") == 1);
  CHECK(j.at("recipe").at("threads") == 1);  // eqnn --threads 1
  REQUIRE(j.at("models").size() == 3);
  const std::vector<std::string> names = {"cnn", "cnn+aug", "gcnn"};
  for (size_t m = 0; m < 3; ++m) {
    const auto& model = j.at("models")[m];
    INFO(model.dump());
    CHECK(model.at("name") == names[m]);
    CHECK(model.at("parameters").get<int64_t>() > 0);
    CHECK(model.at("epoch_losses").size() == 1);
    const double test = model.at("test_accuracy").get<double>();
    CHECK(test >= 0);
    CHECK(test <= 1);
    REQUIRE(model.at("accuracy_per_element").size() == 8);
    CHECK(model.at("accuracy_per_element").at("e").get<double>() == test);
    CHECK(model.at("accuracy_unseen_rotation").size() == 1);

    // the checkpoint reproduces the reported test accuracy
    eqnn::Checkpoint ckpt = eqnn::load_checkpoint(out + "/" + names[m] + ".pt");
    CHECK(ckpt.spec.arch == (m == 2 ? "gcnn" : "cnn"));
    CHECK(eqnn::models::parameter_count(*ckpt.model) == model.at("parameters").get<int64_t>());
    CHECK(eqnn::accuracy(ckpt.model, data.images, data.labels) == test);
    // the reported probe is the eval-mode model's: probing the checkpoint gives the same numbers
    ckpt.model->eval();
    const auto report = eqnn::probe::run_probe(eqnn::probe::model_of(ckpt.model, names[m]),
                                               data.images.narrow(0, 0, 9),
                                               eqnn::probe::group_transforms(eqnn::Group::d4()));
    for (const auto& r : j.at("probe_group").at("rows")) {
      if (r.at("model") != names[m] || r.at("metric") != "output_kl") continue;
      const auto* ours = report.find(names[m], r.at("stage_index"), "output_kl", "kl");
      REQUIRE(ours);
      CHECK(ours->value == Approx(r.at("value").get<double>()).epsilon(1e-9).margin(1e-15));
    }
  }
  CHECK(j.at("models")[1].at("augmentation") == "D4");
  // the G-CNN is invariant: the same accuracy under every element
  for (const auto& [element, acc] : j.at("models")[2].at("accuracy_per_element").items())
    CHECK(acc.get<double>() == j.at("models")[2].at("test_accuracy").get<double>());

  // probe rows: the G-CNN's stages are equivariant, its logits invariant, the plain CNN's not
  const auto rows = j.at("probe_group").at("rows");
  auto value = [&](const std::string& model, int64_t stage, const std::string& metric,
                   const std::string& deviation) {
    for (const auto& r : rows)
      if (r.at("model") == model && r.at("stage_index") == stage && r.at("metric") == metric &&
          r.at("deviation") == deviation)
        return r.at("value").get<double>();
    FAIL("no row " << model << " " << stage << " " << metric << " " << deviation);
    return 0.0;
  };
  CHECK(value("gcnn", 0, "equivariance", "cosine") < 1e-6);
  CHECK(value("gcnn", 13, "invariance", "cosine") < 1e-6);
  CHECK(value("gcnn", 13, "output_kl", "kl") < 1e-9);
  CHECK(value("cnn", 13, "output_kl", "kl") > 1e-6);
  CHECK(j.at("probe_unseen_rotations").at("transforms").size() == 2);  // 0 and 45 degrees

  std::stringstream html;
  html << std::ifstream(out + "/demo.html").rdbuf();
  CHECK(html.str().find("<svg") != std::string::npos);
  CHECK(html.str().find("gcnn") != std::string::npos);
  std::stringstream log;
  log << std::ifstream("demo_test.log").rdbuf();
  CHECK(log.str().find("Invariance per stage") != std::string::npos);
  std::filesystem::remove_all(out);
  for (const char* f : {"demo_shapes-images.idx", "demo_shapes-labels.idx", "demo_test.log"})
    std::remove(f);
}
#endif
