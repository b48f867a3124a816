// eqnn demo end to end on a small generated IDX data set: the four models train, the report has
// every field with sane values, the G-CNNs are invariant where they must be, and the checkpoints
// it writes reproduce the reported accuracies.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "support.h"

#ifdef EQNN_CLI_PATH
TEST_CASE("eqnn demo trains, evaluates and probes four models and writes its reports",
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
  REQUIRE(j.at("models").size() == 4);
  CHECK(j.at("accuracy_curve_images") == 36);  // the whole test set (fewer than 2000 images)
  const std::vector<std::string> names = {"cnn", "cnn+aug", "gcnn", "gcnn-c8"};
  for (size_t m = 0; m < 4; ++m) {
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
    // the accuracy curve: 0, 15, ..., 360 degrees; 0 is the test set as given, 360 repeats it
    const auto& curve = model.at("accuracy_by_angle");
    REQUIRE(curve.at("degrees").size() == 25);
    REQUIRE(curve.at("accuracy").size() == 25);
    CHECK(curve.at("degrees")[1].get<double>() == 15);
    CHECK(curve.at("degrees")[24].get<double>() == 360);
    CHECK(curve.at("accuracy")[0].get<double>() == test);
    CHECK(curve.at("accuracy")[24].get<double>() == test);
    // the D4 G-CNN is invariant to quarter turns, which move pixels exactly
    if (m == 2)
      for (int k : {6, 12, 18})
        CHECK(curve.at("accuracy")[k].get<double>() == test);

    // the checkpoint reproduces the reported test accuracy
    eqnn::Checkpoint ckpt = eqnn::load_checkpoint(out + "/" + names[m] + ".pt");
    CHECK(ckpt.spec.arch == (m >= 2 ? "gcnn" : "cnn"));
    if (m == 3) CHECK(ckpt.spec.group == "C8");
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
  // 45 degrees is an element of C8: the second G-CNN's inner stages have an action for it (by
  // interpolation), the first's (D4 fields) none, and its logits are invariant to it.
  const auto unseen_rows = j.at("probe_unseen_rotations").at("rows");
  auto unseen_row = [&](const std::string& model, int64_t stage, const std::string& metric) {
    for (const auto& r : unseen_rows)
      if (r.at("model") == model && r.at("stage_index") == stage && r.at("metric") == metric &&
          r.at("deviation") == "cosine")
        return r;
    FAIL("no unseen-rotation row " << model << " " << stage << " " << metric);
    return nlohmann::json();
  };
  CHECK(unseen_row("gcnn-c8", 4, "equivariance").at("value").is_number());
  CHECK(unseen_row("gcnn", 4, "equivariance").at("value").is_null());
  CHECK(unseen_row("gcnn", 4, "equivariance").at("action").get<std::string>().rfind("n/a", 0) == 0);
  // learned latent actions of the two plain CNNs (and of no G-CNN), each kind of action a line
  std::set<std::string> fitted_models;
  for (const auto& r : j.at("fitted_actions").at("rows"))
    fitted_models.insert(r.at("model").get<std::string>());
  CHECK(fitted_models ==
        std::set<std::string>{"cnn [fixed action, held out]", "cnn [fitted permutation]",
                              "cnn [fitted linear]", "cnn+aug [fixed action, held out]",
                              "cnn+aug [fitted permutation]", "cnn+aug [fitted linear]"});

  std::stringstream html;
  html << std::ifstream(out + "/demo.html").rdbuf();
  CHECK(html.str().find("<svg") != std::string::npos);
  CHECK(html.str().find("gcnn") != std::string::npos);
  std::stringstream log;
  log << std::ifstream("demo_test.log").rdbuf();
  CHECK(log.str().find("Invariance per stage") != std::string::npos);
  CHECK(log.str().find("Accuracy against rotation") != std::string::npos);
  CHECK(log.str().find("Learned latent actions") != std::string::npos);
  CHECK(html.str().find("Learned latent actions (held out)") != std::string::npos);
  CHECK(html.str().find("Test accuracy against rotation") != std::string::npos);
  CHECK(html.str().find("gcnn-c8") != std::string::npos);
  std::filesystem::remove_all(out);
  for (const char* f : {"demo_shapes-images.idx", "demo_shapes-labels.idx", "demo_test.log"})
    std::remove(f);
}
#endif
