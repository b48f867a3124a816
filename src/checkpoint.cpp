#include "eqnn/checkpoint.h"

#include <torch/serialize.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>

#include "eqnn/group.h"
#include "eqnn/models.h"
#include "io/atomic_file.h"
#include "io/zip_check.h"

namespace eqnn {
namespace {
/// Version of the spec's JSON; bumped whenever the example architectures change shape or the spec
/// gains a field. Format 3 added kernel_size and first_kernel_size, format 4 blur; older specs
/// still load, with what they were trained with: the default kernel sizes (format 2) and the box
/// blur (formats 2 and 3).
constexpr int kSpecFormat = 4;
constexpr int kOldestSpecFormat = 2;
}  // namespace

std::string ModelSpec::to_json() const {
  return nlohmann::json{{"format", kSpecFormat},
                        {"arch", arch},
                        {"group", canonical_group()},
                        {"input_size", input_size},
                        {"in_channels", in_channels},
                        {"width1", width1},
                        {"width2", width2},
                        {"width3", width3},
                        {"classes", classes},
                        {"kernel_size", kernel_size},
                        {"first_kernel_size", first_kernel_size},
                        {"blur", blur}}
      .dump();
}

ModelSpec ModelSpec::from_json(const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    TORCH_CHECK(false, "eqnn::ModelSpec: malformed spec: ", e.what());
  }
  // A number in the JSON must be a whole number an int64_t holds (get<int64_t>() would truncate
  // 2.5 and cast 1e300 with undefined behaviour).
  const auto integer = [&](const char* name) -> int64_t {
    const nlohmann::json& v = j.at(name);
    TORCH_CHECK(v.is_number_integer() && (!v.is_number_unsigned() ||
                                          v.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX)),
                "eqnn::ModelSpec: '", name, "' must be a whole number, got ", v.dump());
    return v.get<int64_t>();
  };
  ModelSpec s;
  TORCH_CHECK(j.is_object(), "eqnn::ModelSpec: malformed spec: expected a JSON object, got ",
              j.type_name());
  int64_t format = 0;
  try {
    format = integer("format");
    TORCH_CHECK(format >= kOldestSpecFormat && format <= kSpecFormat,
                "eqnn::ModelSpec: unsupported spec format ", format, " (this eqnn reads formats ",
                kOldestSpecFormat, " to ", kSpecFormat,
                format < kOldestSpecFormat
                    ? "; the checkpoint was written by an older eqnn whose example "
                      "architectures differ: train it again)"
                    : ")");
    s.arch = j.at("arch").get<std::string>();
    s.group = j.at("group").get<std::string>();
    s.input_size = integer("input_size");
    s.in_channels = integer("in_channels");
    s.width1 = integer("width1");
    s.width2 = integer("width2");
    s.width3 = integer("width3");
    s.classes = integer("classes");
    if (format >= 3) {
      s.kernel_size = integer("kernel_size");
      s.first_kernel_size = integer("first_kernel_size");
    }
    if (format >= 4) s.blur = j.at("blur").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    TORCH_CHECK(false, "eqnn::ModelSpec: incomplete spec: ", e.what());
  }
  s.validate();
  s.group = s.canonical_group();
  // Formats 2 and 3 pooled with the box blur; only a G-CNN off the grid has the blur at all.
  if (format < 4 && s.blurs()) s.blur = "box";
  return s;
}

namespace {

models::SmallGCNNOptions gcnn_options(const ModelSpec& spec) {
  models::SmallGCNNOptions o(Group::from_name(spec.group), spec.input_size);
  o.in_channels(spec.in_channels).classes(spec.classes).channels_last(true);
  if (spec.width1 > 0) o.fields1(spec.width1);
  if (spec.width2 > 0) o.fields2(spec.width2);
  if (spec.width3 > 0) o.fields3(spec.width3);
  if (spec.kernel_size > 0) o.kernel_size(spec.kernel_size);
  if (spec.first_kernel_size > 0) o.lift_kernel_size(spec.first_kernel_size);
  o.blur(spec.blur == "box" ? Blur::Box : Blur::Binomial);
  return o;
}

models::PlainCNNOptions cnn_options(const ModelSpec& spec) {
  models::PlainCNNOptions o(spec.input_size);
  o.in_channels(spec.in_channels).classes(spec.classes);
  if (spec.width1 > 0) o.channels1(spec.width1);
  if (spec.width2 > 0) o.channels2(spec.width2);
  if (spec.width3 > 0) o.channels3(spec.width3);
  if (spec.kernel_size > 0) o.kernel_size(spec.kernel_size);
  if (spec.first_kernel_size > 0) o.first_kernel_size(spec.first_kernel_size);
  return o;
}

}  // namespace

std::string ModelSpec::canonical_group() const {
  try {
    return Group::from_name(group).name();
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, "eqnn::ModelSpec: ", e.what_without_backtrace());
  }
}

void ModelSpec::validate() const {
  TORCH_CHECK(arch == "gcnn" || arch == "cnn", "eqnn::ModelSpec: unknown architecture '", arch,
              "'; expected gcnn or cnn");
  canonical_group();
  const std::array<std::pair<const char*, int64_t>, 3> widths = {
      {{"width1", width1}, {"width2", width2}, {"width3", width3}}};
  for (const auto& [name, value] : widths)
    TORCH_CHECK(value >= 0 && value <= kMaxWidth, "eqnn::ModelSpec: ", name, " must be in [0, ",
                kMaxWidth, "] (0: the default), got ", value);
  TORCH_CHECK(input_size >= 1 && input_size <= kMaxInputSize,
              "eqnn::ModelSpec: input_size must be in [1, ", kMaxInputSize, "], got ", input_size);
  TORCH_CHECK(in_channels >= 1 && in_channels <= kMaxInChannels,
              "eqnn::ModelSpec: in_channels must be in [1, ", kMaxInChannels, "], got ",
              in_channels);
  TORCH_CHECK(classes >= 1 && classes <= kMaxClasses, "eqnn::ModelSpec: classes must be in [1, ",
              kMaxClasses, "], got ", classes);
  const std::array<std::pair<const char*, int64_t>, 2> kernels = {
      {{"kernel_size", kernel_size}, {"first_kernel_size", first_kernel_size}}};
  for (const auto& [name, value] : kernels)
    TORCH_CHECK(value == 0 || (value >= 1 && value <= kMaxKernelSize && value % 2 == 1),
                "eqnn::ModelSpec: ", name, " must be 0 (the default) or odd in [1, ",
                kMaxKernelSize, "], got ", value);
  TORCH_CHECK(blur == "binomial" || blur == "box",
              "eqnn::ModelSpec: blur must be binomial or box, got '", blur, "'");
  // Each width is bounded, but two wide layers in a row are not: the weights a layer allocates
  // (for a G-CNN its expanded filter, |G|^2 entries per field pair and kernel tap) are bounded
  // too, before anything is built.
  const auto w = resolved_widths();
  int64_t order = 1, first_taps = 25, taps = 9;
  if (arch == "gcnn") {
    const auto o = gcnn_options(*this);
    order = o.group().order();
    first_taps = o.lift_kernel_size() * o.lift_kernel_size();
    taps = o.kernel_size() * o.kernel_size();
  } else {
    const auto o = cnn_options(*this);
    first_taps = o.first_kernel_size() * o.first_kernel_size();
    taps = o.kernel_size() * o.kernel_size();
  }
  const std::array<std::pair<const char*, int64_t>, 4> layers = {
      {{"the first layer", in_channels * w[0] * order * first_taps},
       {"the second layer", w[0] * w[1] * order * order * taps},
       {"the third layer", w[1] * w[2] * order * order * taps},
       {"the classifier", w[2] * classes}}};
  for (const auto& [name, entries] : layers)
    TORCH_CHECK(entries <= kMaxLayerWeights, "eqnn::ModelSpec: ", name, " of ", describe(),
                " would hold ", entries, " weights; at most ", kMaxLayerWeights,
                " per layer are accepted");
}

std::string ModelSpec::describe() const {
  const auto w = resolved_widths();
  const std::string widths =
      std::to_string(w[0]) + ", " + std::to_string(w[1]) + ", " + std::to_string(w[2]);
  const auto square = [](int64_t k) { return std::to_string(k) + "x" + std::to_string(k); };
  std::string kernel = kernel_size > 0 ? ", " + square(kernel_size) : "";
  if (first_kernel_size > 0) kernel += ", first " + square(first_kernel_size);
  if (arch == "gcnn") {
    const bool box = blur == "box" && blurs();
    return "gcnn-" + canonical_group() + " (" + widths + " fields" + kernel +
           (box ? ", box blur" : "") + ")";
  }
  return "cnn (" + widths + " channels" + kernel + ")";
}

bool ModelSpec::blurs() const {
  return arch == "gcnn" && !Group::from_name(group).is_grid_group();
}

std::array<int64_t, 3> ModelSpec::resolved_widths() const {
  if (arch == "gcnn") {
    const auto o = gcnn_options(*this);
    return {o.fields1(), o.fields2(), o.fields3()};
  }
  const auto o = cnn_options(*this);
  return {o.channels1(), o.channels2(), o.channels3()};
}

torch::nn::Sequential build_model(const ModelSpec& spec) {
  spec.validate();
  if (spec.arch == "gcnn") return models::small_gcnn(gcnn_options(spec));
  TORCH_CHECK(spec.arch == "cnn", "eqnn::build_model: unknown architecture '", spec.arch, "'");
  return models::plain_cnn(cnn_options(spec));
}

namespace {

/// Refuses to save a model whose weights or buffers are NaN or infinite (a diverged run must not
/// overwrite the last good checkpoint).
void check_finite(const torch::nn::Module& model, const std::string& path) {
  torch::NoGradGuard no_grad;
  auto check = [&](const std::string& name, const torch::Tensor& t, const char* kind) {
    TORCH_CHECK(!t.is_floating_point() || t.numel() == 0 || torch::isfinite(t).all().item<bool>(),
                "eqnn::save_checkpoint: ", kind, " '", name,
                "' has NaN or infinite entries; not writing '", path,
                "' (the previous checkpoint, if any, is kept)");
  };
  for (const auto& p : model.named_parameters())
    check(p.key(), p.value(), "parameter");
  for (const auto& b : model.named_buffers())
    check(b.key(), b.value(), "buffer");
}

}  // namespace

void save_checkpoint(const std::string& path, const ModelSpec& spec,
                     const torch::nn::Sequential& model, const std::string& extra_json,
                     const torch::optim::Optimizer* optimizer) {
  check_finite(*model, path);
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
  // Serialised in memory, so that LibTorch's stream writer never meets a failing file (it aborts
  // the process from a destructor); the bytes then go out with checked I/O.
  std::string bytes;
  archive.save_to([&bytes](const void* data, size_t size) -> size_t {
    bytes.append(static_cast<const char*>(data), size);
    return size;
  });
  io::write_file_atomically(path, bytes, "eqnn::save_checkpoint");
}

namespace {

torch::serialize::InputArchive open_archive(const std::string& path, ModelSpec* spec,
                                            std::string* extra) {
  TORCH_CHECK(std::ifstream(path).good(), "eqnn::load_checkpoint: cannot open '", path, "'");
  if (io::is_zip_file(path)) {
    const std::string damage = io::zip_damage(path);
    TORCH_CHECK(damage.empty(), "eqnn::load_checkpoint: '", path, "' is damaged: ", damage,
                " (a truncated or corrupted file)");
  }
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
  try {
    *spec = ModelSpec::from_json(spec_value.toStringRef());
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, "eqnn::load_checkpoint: '", path,
                "' has an invalid architecture spec: ", e.what_without_backtrace());
  }
  *extra = archive.try_read("eqnn_extra", extra_value) && extra_value.isString()
               ? extra_value.toStringRef()
               : "{}";
  return archive;
}

/// Every parameter and buffer of `module` (recursively, as Module::load reads them) must be in
/// the archive with the model's shape and dtype: LibTorch's loader would silently replace a
/// tensor of another shape.
void check_tensors(torch::serialize::InputArchive& archive, const torch::nn::Module& module,
                   const std::string& prefix, const std::string& path) {
  auto check = [&](const std::string& name, const torch::Tensor& expected, bool is_buffer) {
    torch::Tensor stored;
    TORCH_CHECK(archive.try_read(name, stored, is_buffer), "eqnn::load_checkpoint: '", path,
                "' has no ", is_buffer ? "buffer" : "parameter", " '", prefix + name,
                "' that the architecture has");
    TORCH_CHECK(
        stored.sizes() == expected.sizes() && stored.scalar_type() == expected.scalar_type(),
        "eqnn::load_checkpoint: '", path, "': ", is_buffer ? "buffer" : "parameter", " '",
        prefix + name, "' is ", stored.scalar_type(), " ", stored.sizes(),
        ", the architecture has ", expected.scalar_type(), " ", expected.sizes());
  };
  for (const auto& p : module.named_parameters(/*recurse=*/false))
    check(p.key(), p.value(), false);
  for (const auto& b : module.named_buffers(/*recurse=*/false))
    check(b.key(), b.value(), true);
  for (const auto& child : module.named_children()) {
    if (!child.value()->is_serializable()) continue;
    torch::serialize::InputArchive child_archive;
    TORCH_CHECK(archive.try_read(child.key(), child_archive), "eqnn::load_checkpoint: '", path,
                "' has no weights for module '", prefix + child.key(), "'");
    check_tensors(child_archive, *child.value(), prefix + child.key() + ".", path);
  }
}

void read_weights(torch::serialize::InputArchive& archive, const std::string& path,
                  torch::nn::Sequential& model) {
  torch::serialize::InputArchive weights;
  TORCH_CHECK(archive.try_read("model", weights), "eqnn::load_checkpoint: '", path,
              "' has no weights");
  check_tensors(weights, *model, "", path);
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
  // The blur is part of the architecture only where it is used (ModelSpec::blurs).
  const auto normalised = [](ModelSpec s) {
    if (!s.blurs()) s.blur = ModelSpec().blur;
    return s.to_json();
  };
  TORCH_CHECK(normalised(spec) == normalised(expected), "eqnn::load_weights: '", path,
              "' holds a different architecture: ", spec.describe(), " (", spec.to_json(),
              "), expected ", expected.describe(), " (", expected.to_json(), ")");
  read_weights(archive, path, model);
  return extra;
}

}  // namespace eqnn
