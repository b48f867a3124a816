// Whether this build of eqnn can connect several processes (c10d with Gloo): the distributed tests
// are skipped, and CTest reports them as skipped, where it cannot (e.g. a LibTorch whose include
// tree has no Gloo headers).
#pragma once

#include <catch2/catch.hpp>

#include <string>

#include "eqnn/distributed/communicator.h"

namespace eqnn_test {

/// True where a communicator of world size 2 can be made; tries one with a rendezvous that
/// cannot complete (a 1 ms timeout): only a build without Gloo refuses it for the world size.
inline bool multi_process_build() {
  static const bool available = [] {
    try {
      eqnn::distributed::Communicator(eqnn::distributed::CommunicatorOptions()
                                          .world_size(2)
                                          .rank(1)
                                          .rendezvous("tcp://127.0.0.1:1")
                                          .timeout_ms(1));
    } catch (const std::exception& e) {
      return std::string(e.what()).find("needs c10d with Gloo") == std::string::npos;
    }
    return true;
  }();
  return available;
}

}  // namespace eqnn_test

/// At the top of a test case that needs several processes: returns (skipped) without Gloo.
#define EQNN_REQUIRE_MULTI_PROCESS()                                                      \
  do {                                                                                    \
    if (!eqnn_test::multi_process_build()) {                                              \
      WARN("No Gloo: skipping (this build of eqnn has the single-process communicator)"); \
      return;                                                                             \
    }                                                                                     \
  } while (false)
