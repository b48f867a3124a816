// The IDX reader: round trips for every element type, plain and gzip, and a clear error for every
// kind of malformed file.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <zlib.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <thread>

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

TEST_CASE("IDX headers are checked against the file before the data is allocated", "[idx]") {
  const std::string path = "eqnn_idx_huge.idx";
  // 35 bytes whose header declares 2^30 x 18 float64 entries (19.3 G entries, 154 GB): refused
  // by the file's length instead of an allocation of 154 GB.
  std::vector<unsigned char> huge = {0, 0, 0x0E, 2, 0x40, 0, 0, 0, 0, 0, 0, 18};
  huge.resize(35, 7);
  write_bytes(path, huge);
  CHECK_THROWS_WITH(read_idx(path), Contains("eqnn::data::read_idx: '" + path + "'") &&
                                        Contains("is truncated: the header declares "
                                                 "154618822656 bytes of data, the file has 23"));
  // the same header gzip-compressed: more than deflate can inflate the file to
  const std::string gz = "eqnn_idx_huge.idx.gz";
  {
    gzFile f = gzopen(gz.c_str(), "wb");
    REQUIRE(f != nullptr);
    REQUIRE(gzwrite(f, huge.data(), static_cast<unsigned>(huge.size())) == 35);
    gzclose(f);
  }
  CHECK_THROWS_WITH(read_idx(gz),
                    Contains("eqnn::data::read_idx: '" + gz +
                             "' declares "
                             "154618822656 bytes of data, more than a gzip file of") &&
                        Contains("deflate compresses at most 1032:1"));
  // beyond the documented maximum in any case
  write_bytes(path, {0, 0, 0x0E, 3, 0x10, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 1});
  CHECK_THROWS_WITH(read_idx(path), Contains("declares an implausibly large array"));
  // a pipe has no length: it is read piece by piece, so a header declaring 32 GiB that is
  // followed by 10 bytes fails when the stream ends, without allocating 32 GiB first
  const std::string fifo = "eqnn_idx_fifo";
  std::remove(fifo.c_str());
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  std::signal(SIGPIPE, SIG_IGN);  // a writer whose reader gave up fails instead of killing us
  std::thread writer([&] {
    std::vector<unsigned char> bytes = {0, 0, 8, 2, 0, 0x80, 0, 0, 0, 0, 0x10, 0};
    bytes.resize(bytes.size() + 10, 1);
    write_bytes(fifo, bytes);
  });
  CHECK_THROWS_WITH(read_idx(fifo), Contains("eqnn::data::read_idx: '" + fifo + "'") &&
                                        Contains("is truncated: the header declares 34359738368 "
                                                 "bytes of data, the file has 10"));
  writer.join();
  // and a pipe with a whole file reads like the file
  std::thread whole([&] { write_bytes(fifo, {0, 0, 8, 1, 0, 0, 0, 3, 4, 5, 6}); });
  CHECK(torch::equal(read_idx(fifo), torch::tensor({4, 5, 6}, torch::kByte)));
  whole.join();
  for (const std::string& f : {path, gz, fifo})
    std::remove(f.c_str());
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
