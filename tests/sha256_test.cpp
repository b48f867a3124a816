// SHA-256 against the test vectors of FIPS 180-4's examples, across block boundaries, and of files.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <string>

#include "eqnn/data/sha256.h"

TEST_CASE("sha256 matches the FIPS 180-4 examples, for strings and files", "[data]") {
  using eqnn::data::sha256_hex;
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // 56 bytes: the padding needs a second block
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const std::string million(1000000, 'a');
  CHECK(sha256_hex(million) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

  // a file read in 64 KiB blocks hashes like its bytes
  const std::string path = "eqnn_sha256_test.bin";
  {
    std::ofstream out(path, std::ios::binary);
    out << million << "tail";
  }
  CHECK(eqnn::data::file_sha256(path) == sha256_hex(million + "tail"));
  std::remove(path.c_str());
  CHECK_THROWS_WITH(eqnn::data::file_sha256("eqnn_no_such_file.bin"),
                    Catch::Contains("cannot open 'eqnn_no_such_file.bin'"));
}
