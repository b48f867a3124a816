#include "eqnn/checkpoint.h"

#include <torch/serialize.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "eqnn/group.h"
#include "eqnn/models.h"

namespace eqnn {
namespace {
/// Version of the spec's JSON; bumped whenever the example architectures change shape.
constexpr int kSpecFormat = 2;
}  // namespace

std::string ModelSpec::to_json() const {
  return nlohmann::json{{"format", kSpecFormat},
                        {"arch", arch},
                        {"group", group},
                        {"input_size", input_size},
                        {"in_channels", in_channels},
                        {"width1", width1},
                        {"width2", width2},
                        {"width3", width3},
                        {"classes", classes}}
      .dump();
}

ModelSpec ModelSpec::from_json(const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    TORCH_CHECK(false, "eqnn::ModelSpec: malformed spec: ", e.what());
  }
  ModelSpec s;
  try {
    const int format = j.at("format").get<int>();
    TORCH_CHECK(format == kSpecFormat, "eqnn::ModelSpec: unsupported spec format ", format,
                " (this eqnn reads format ", kSpecFormat,
                format < kSpecFormat
                    ? "; the checkpoint was written by an older eqnn whose example "
                      "architectures differ: train it again)"
                    : ")");
    s.arch = j.at("arch").get<std::string>();
    s.group = j.at("group").get<std::string>();
    s.input_size = j.at("input_size").get<int64_t>();
    s.in_channels = j.at("in_channels").get<int64_t>();
    s.width1 = j.at("width1").get<int64_t>();
    s.width2 = j.at("width2").get<int64_t>();
    s.width3 = j.at("width3").get<int64_t>();
    s.classes = j.at("classes").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    TORCH_CHECK(false, "eqnn::ModelSpec: incomplete spec: ", e.what());
  }
  TORCH_CHECK(s.arch == "gcnn" || s.arch == "cnn", "eqnn::ModelSpec: unknown architecture '",
              s.arch, "'; expected gcnn or cnn");
  return s;
}

std::string ModelSpec::describe() const {
  const auto w = resolved_widths();
  const std::string widths =
      std::to_string(w[0]) + ", " + std::to_string(w[1]) + ", " + std::to_string(w[2]);
  if (arch == "gcnn") return "gcnn-" + group + " (" + widths + " fields)";
  return "cnn (" + widths + " channels)";
}

namespace {

models::SmallGCNNOptions gcnn_options(const ModelSpec& spec) {
  models::SmallGCNNOptions o(Group::from_name(spec.group), spec.input_size);
  o.in_channels(spec.in_channels).classes(spec.classes).channels_last(true);
  if (spec.width1 > 0) o.fields1(spec.width1);
  if (spec.width2 > 0) o.fields2(spec.width2);
  if (spec.width3 > 0) o.fields3(spec.width3);
  return o;
}

models::PlainCNNOptions cnn_options(const ModelSpec& spec) {
  models::PlainCNNOptions o(spec.input_size);
  o.in_channels(spec.in_channels).classes(spec.classes);
  if (spec.width1 > 0) o.channels1(spec.width1);
  if (spec.width2 > 0) o.channels2(spec.width2);
  if (spec.width3 > 0) o.channels3(spec.width3);
  return o;
}

}  // namespace

std::array<int64_t, 3> ModelSpec::resolved_widths() const {
  if (arch == "gcnn") {
    const auto o = gcnn_options(*this);
    return {o.fields1(), o.fields2(), o.fields3()};
  }
  const auto o = cnn_options(*this);
  return {o.channels1(), o.channels2(), o.channels3()};
}

torch::nn::Sequential build_model(const ModelSpec& spec) {
  if (spec.arch == "gcnn") return models::small_gcnn(gcnn_options(spec));
  TORCH_CHECK(spec.arch == "cnn", "eqnn::build_model: unknown architecture '", spec.arch, "'");
  return models::plain_cnn(cnn_options(spec));
}

void save_checkpoint(const std::string& path, const ModelSpec& spec,
                     const torch::nn::Sequential& model, const std::string& extra_json,
                     const torch::optim::Optimizer* optimizer) {
  torch::serialize::OutputArchive archive;
  archive.write("eqnn_spec", c10::IValue(spec.to_json()));
  archive.write("eqnn_extra", c10::IValue(extra_json));
  torch::serialize::OutputArchive weights;
  model->save(weights);
  archive.write("model", weights);
  if (optimizer != nullptr) {
    torch::serialize::OutputArchive state;
    optimizer->save(state);
    archive.write("optimizer", state);
  }
  const std::string temporary = path + ".tmp";
  archive.save_to(temporary);
  TORCH_CHECK(std::rename(temporary.c_str(), path.c_str()) == 0,
              "eqnn::save_checkpoint: cannot rename '", temporary, "' to '", path, "'");
}

namespace {

torch::serialize::InputArchive open_archive(const std::string& path, ModelSpec* spec,
                                            std::string* extra) {
  TORCH_CHECK(std::ifstream(path).good(), "eqnn::load_checkpoint: cannot open '", path, "'");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, "eqnn::load_checkpoint: '", path,
                "' is not a readable checkpoint: ", e.what_without_backtrace());
  }
  c10::IValue spec_value, extra_value;
  TORCH_CHECK(archive.try_read("eqnn_spec", spec_value) && spec_value.isString(),
              "eqnn::load_checkpoint: '", path,
              "' is not an eqnn checkpoint (no architecture spec)");
  *spec = ModelSpec::from_json(spec_value.toStringRef());
  *extra = archive.try_read("eqnn_extra", extra_value) && extra_value.isString()
               ? extra_value.toStringRef()
               : "{}";
  return archive;
}

void read_weights(torch::serialize::InputArchive& archive, const std::string& path,
                  torch::nn::Sequential& model) {
  torch::serialize::InputArchive weights;
  TORCH_CHECK(archive.try_read("model", weights), "eqnn::load_checkpoint: '", path,
              "' has no weights");
  try {
    model->load(weights);
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, "eqnn::load_checkpoint: the weights in '", path,
                "' do not fit the architecture: ", e.what_without_backtrace());
  }
}

}  // namespace

bool load_optimizer_state(const std::string& path, torch::optim::Optimizer& optimizer) {
  ModelSpec spec;
  std::string extra;
  torch::serialize::InputArchive archive = open_archive(path, &spec, &extra);
  torch::serialize::InputArchive state;
  if (!archive.try_read("optimizer", state)) return false;
  optimizer.load(state);
  return true;
}

Checkpoint load_checkpoint(const std::string& path) {
  Checkpoint out;
  torch::serialize::InputArchive archive = open_archive(path, &out.spec, &out.extra_json);
  out.model = build_model(out.spec);
  read_weights(archive, path, out.model);
  return out;
}

std::string load_weights(const std::string& path, const ModelSpec& expected,
                         torch::nn::Sequential& model) {
  ModelSpec spec;
  std::string extra;
  torch::serialize::InputArchive archive = open_archive(path, &spec, &extra);
  TORCH_CHECK(spec.to_json() == expected.to_json(), "eqnn::load_weights: '", path,
              "' holds a different architecture: ", spec.describe(), " (", spec.to_json(),
              "), expected ", expected.describe(), " (", expected.to_json(), ")");
  read_weights(archive, path, model);
  return extra;
}

}  // namespace eqnn
