// The IDX reader: round trips for every element type, plain and gzip, and a clear error for every
// kind of malformed file.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>

#include "support.h"

using Catch::Contains;
using eqnn::data::read_idx;
using eqnn::data::write_idx;

namespace {

std::vector<unsigned char> bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

TEST_CASE("IDX files round trip for every element type, plain and gzip", "[idx]") {
  const std::string path = "eqnn_idx_test.idx";
  for (const auto dtype :
       {torch::kByte, torch::kChar, torch::kShort, torch::kInt, torch::kFloat, torch::kDouble}) {
    for (const bool gzip : {false, true}) {
      INFO(c10::toString(dtype) << (gzip ? " gzip" : " plain"));
      const torch::Tensor t = (torch::rand({3, 4, 5}) * 100).to(dtype);
      write_idx(path, t, gzip);
      const torch::Tensor back = read_idx(path);
      CHECK(back.scalar_type() == dtype);
      CHECK(torch::equal(back, t));
    }
  }
  // the plain file has the documented layout: magic, big-endian sizes, data
  write_idx(path, torch::arange(6, torch::kByte).view({2, 3}), false);
  CHECK(bytes_of(path) ==
        std::vector<unsigned char>{0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 1, 2, 3, 4, 5});
  std::remove(path.c_str());
}

TEST_CASE("malformed IDX files give clear errors", "[idx]") {
  const std::string path = "eqnn_idx_bad.idx";
  CHECK_THROWS_WITH(read_idx("/nonexistent/eqnn.idx"),
                    Contains("cannot open '/nonexistent/eqnn.idx'"));
  write_bytes(path, {});
  CHECK_THROWS_WITH(read_idx(path), Contains("shorter than the 4-byte IDX header"));
  write_bytes(path, {1, 0, 8, 1, 0, 0, 0, 1, 7});
  CHECK_THROWS_WITH(read_idx(path), Contains("is not an IDX file"));
  write_bytes(path, {0, 0, 0x0A, 1, 0, 0, 0, 1, 7});
  CHECK_THROWS_WITH(read_idx(path), Contains("unknown element type 0xa"));
  write_bytes(path, {0, 0, 8, 0});
  CHECK_THROWS_WITH(read_idx(path), Contains("declares 0 dimensions"));
  write_bytes(path, {0, 0, 8, 2, 0, 0, 0, 2, 0, 0});
  CHECK_THROWS_WITH(read_idx(path),
                    Contains("truncated in its header (size of dimension 1 missing)"));
  write_bytes(path, {0, 0, 8, 1, 0, 0, 0, 0});
  CHECK_THROWS_WITH(read_idx(path), Contains("has size 0 in dimension 0"));
  write_bytes(path, {0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3});
  CHECK_THROWS_WITH(read_idx(path),
                    Contains("is truncated: the header declares 6 bytes of data, the file has 3"));
  write_bytes(path, {0, 0, 8, 1, 0, 0, 0, 2, 1, 2, 3});
  CHECK_THROWS_WITH(read_idx(path), Contains("trailing bytes after the 2 bytes"));
  // a truncated and a corrupted gzip stream
  write_idx(path, torch::arange(4000, torch::kInt), true);
  std::vector<unsigned char> gz = bytes_of(path);
  REQUIRE(gz.size() > 40);
  write_bytes(
      path, std::vector<unsigned char>(gz.begin(), gz.begin() + static_cast<long>(gz.size() / 2)));
  CHECK_THROWS_WITH(read_idx(path), Contains("eqnn::data::read_idx: '" + path + "'"));
  std::vector<unsigned char> flipped = gz;
  for (size_t i = 20; i < 40; ++i)
    flipped[i] ^= 0xFF;
  write_bytes(path, flipped);
  CHECK_THROWS_WITH(read_idx(path), Contains("eqnn::data::read_idx: '" + path + "'"));
  std::remove(path.c_str());
}

TEST_CASE("image datasets load with labels, limits and count checks", "[idx]") {
  const std::string images = "eqnn_images.idx.gz", labels = "eqnn_labels.idx.gz";
  const torch::Tensor pixels = torch::randint(0, 256, {5, 4, 4}).to(torch::kByte);
  write_idx(images, pixels, true);
  write_idx(labels, torch::tensor({0, 1, 2, 3, 4}).to(torch::kByte), true);
  const auto data = eqnn::data::load_idx_images(images, labels, 3);
  CHECK(data.images.sizes() == torch::IntArrayRef({3, 1, 4, 4}));
  CHECK(data.images.max().item<float>() <= 1.0f);
  CHECK(torch::allclose(data.images[2][0], pixels[2].to(torch::kFloat) / 255.0));
  CHECK(torch::equal(data.labels, torch::tensor({0, 1, 2}, torch::kLong)));
  write_idx(labels, torch::tensor({0, 1}).to(torch::kByte), true);
  CHECK_THROWS_WITH(eqnn::data::load_idx_images(images, labels),
                    Contains("has 5 images but") && Contains("has 2 labels"));
  write_idx(images, torch::zeros({5, 16}, torch::kByte), false);
  CHECK_THROWS_WITH(eqnn::data::load_idx_images(images, ""),
                    Contains("should hold uint8 images (N, H, W)"));
  std::remove(images.c_str());
  std::remove(labels.c_str());
}
