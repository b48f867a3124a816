// The allocator tuning the library applies by default (threads.h): on after the first layer is
// built, observable as large blocks no longer being mmapped one by one, and off in a process
// started with EQNN_TUNE_ALLOCATOR=0.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

#include <unistd.h>

// glibc's malloc, unless a sanitizer replaced it (then mallinfo2 says nothing about the blocks).
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
#define EQNN_TEST_GLIBC_MALLOC 1
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#undef EQNN_TEST_GLIBC_MALLOC
#endif
#endif
#endif

#ifdef EQNN_TEST_GLIBC_MALLOC
#include <malloc.h>
#endif

#include "eqnn/nn/group_pool.h"
#include "eqnn/threads.h"

namespace {

#ifdef EQNN_TEST_GLIBC_MALLOC
/// Whether a fresh 24 MiB block comes from mmap rather than from the heap. glibc's threshold starts
/// at 128 KiB and rises to the largest mmapped block freed so far (so only the first such block of
/// a process tells); tuned, it is 32 MiB.
bool large_block_is_mmapped() {
  void* (*volatile allocate)(size_t) = std::malloc;  // not elided by the optimiser
  const size_t before = mallinfo2().hblks;
  void* block = allocate(24 << 20);
  const size_t during = mallinfo2().hblks;
  std::free(block);
  return during > before;
}
#endif

}  // namespace

TEST_CASE("the library tunes the allocator once by default, and EQNN_TUNE_ALLOCATOR=0 opts out",
          "[allocator]") {
  eqnn::GroupPool pool(eqnn::Group::d4());  // building any layer applies the default
  CHECK(eqnn::apply_default_allocator_tuning());
#ifdef EQNN_TEST_GLIBC_MALLOC
  CHECK_FALSE(large_block_is_mmapped());
#endif
  // A process that opted out keeps glibc's defaults (the hidden case below, run as a child).
  const std::string self = "/proc/" + std::to_string(::getpid()) + "/exe";
  const std::string child =
      "EQNN_TUNE_ALLOCATOR=0 " + self + " \"[allocator_opt_out]\" --warn NoTests > /dev/null";
  CHECK(std::system(child.c_str()) == 0);
}

TEST_CASE("with EQNN_TUNE_ALLOCATOR=0 the library leaves glibc as it is", "[.allocator_opt_out]") {
  const char* env = std::getenv("EQNN_TUNE_ALLOCATOR");
  REQUIRE(env != nullptr);
  REQUIRE(std::string(env) == "0");
  eqnn::GroupPool pool(eqnn::Group::d4());
  CHECK_FALSE(eqnn::apply_default_allocator_tuning());
#ifdef EQNN_TEST_GLIBC_MALLOC
  CHECK(large_block_is_mmapped());
#endif
  eqnn::tune_allocator();  // asked for explicitly: applied
  CHECK(eqnn::apply_default_allocator_tuning());
#ifdef EQNN_TEST_GLIBC_MALLOC
  CHECK_FALSE(large_block_is_mmapped());
#endif
}
