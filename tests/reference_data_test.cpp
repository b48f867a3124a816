// The shared reference arrays (tests/data/reference, copied from the design notes): filter banks,
// outputs and transformed pairs computed outside eqnn in float64.
#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>

#include "support.h"

namespace {

const std::string kDir = std::string(EQNN_TEST_DATA_DIR) + "/reference/";

torch::Tensor load_f64(const std::string& path, const std::vector<int64_t>& shape) {
  std::ifstream in(kDir + path, std::ios::binary);
  REQUIRE(in.good());
  torch::Tensor t = torch::empty(shape, torch::kDouble);
  const auto bytes = static_cast<std::streamsize>(t.numel() * sizeof(double));
  in.read(reinterpret_cast<char*>(t.data_ptr<double>()), bytes);
  REQUIRE(in.gcount() == bytes);
  REQUIRE(in.peek() == std::ifstream::traits_type::eof());  // no trailing data: shapes agree
  return t;
}

}  // namespace

TEST_CASE("layers reproduce the shared float64 reference arrays", "[conv][reference]") {
  std::ifstream in(kDir + "manifest.json");
  REQUIRE(in.good());
  const auto manifest = nlohmann::json::parse(in);
  REQUIRE(manifest.at("cases").size() == 4);
  for (const auto& item : manifest.at("cases").items()) {
    const std::string name = item.key();
    const auto& c = item.value();  // (not a structured binding: the lambda below captures it)
    INFO(name);
    const auto array = [&](const char* key) {
      const auto& a = c.at("arrays").at(key);
      return load_f64(a.at("raw_f64_le").get<std::string>(),
                      a.at("shape").get<std::vector<int64_t>>());
    };
    const eqnn::Group g = eqnn::Group::from_name(c.at("hout").get<std::string>());
    const bool lifting = c.at("hin") == "Z2";
    const int64_t cin = c.at("Cin"), cout = c.at("Cout"), k = c.at("k");
    const int64_t stride = c.at("stride"), pad = c.at("pad");
    const torch::Tensor x = array("x"), w = array("w"), b = array("b"), tw = array("tw");
    const torch::Tensor y = array("y"), x_g = array("x_g"), y_g = array("y_g");
    const auto mr = c.at("g_label_m_r").get<std::vector<int>>();
    const int d4 = 4 * mr[0] + mr[1];
    int64_t element = -1;
    for (int64_t t = 0; t < g.order(); ++t)
      if (g.d4_index(t) == d4) element = t;
    REQUIRE(element >= 0);

    torch::Tensor out, expanded;
    eqnn::FieldType in_type = eqnn::FieldType::trivial(g, cin),
                    out_type = eqnn::FieldType::regular(g, cout);
    if (lifting) {
      eqnn::LiftingConv2d layer(
          eqnn::LiftingConv2dOptions(g, cin, cout, k).stride(stride).padding(pad));
      layer->to(torch::kDouble);
      torch::NoGradGuard no_grad;
      layer->weight.copy_(w.view({cout, cin, k, k}));
      layer->bias.copy_(b);
      expanded = layer->expanded_weight();
      out = layer->forward(x);
      CHECK(eqnn_test::max_abs_diff(layer->forward(x_g), y_g) < 1e-12);
    } else {
      in_type = eqnn::FieldType::regular(g, cin);
      eqnn::GroupConv2d layer(
          eqnn::GroupConv2dOptions(g, cin, cout, k).stride(stride).padding(pad));
      layer->to(torch::kDouble);
      torch::NoGradGuard no_grad;
      layer->weight.copy_(w);
      layer->bias.copy_(b);
      expanded = layer->expanded_weight();
      out = layer->forward(x);
      CHECK(eqnn_test::max_abs_diff(layer->forward(x_g), y_g) < 1e-12);
    }
    // the expansion is a gather of float32-exact values: equal bit for bit
    CHECK(torch::equal(expanded, tw.reshape(expanded.sizes())));
    CHECK(eqnn_test::max_abs_diff(out, y) < 1e-12);
    // the library's actions reproduce the reference's transformed pairs (x_g is a permutation of x:
    // exact; y_g was computed from x_g, so it agrees with g.y up to float64 summation order)
    CHECK(torch::equal(in_type.act(x, element), x_g));
    CHECK(eqnn_test::max_abs_diff(out_type.act(y, element), y_g) < 1e-12);
  }
}
