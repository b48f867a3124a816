// Catch2 (v2) one-liners for equivariance tests. Include after <catch2/catch.hpp>.
//   REQUIRE_EQUIVARIANT(layer, x);            // tolerance from the dtype (docs/conventions.md)
//   REQUIRE_EQUIVARIANT_TOL(model, x, 1e-6);
// On failure Catch2 prints the whole per-element report.
#pragma once

#include "eqnn/check.h"

#define EQNN_EQUIVARIANCE_ASSERT_(macro, module, input, tolerance)  \
  do {                                                              \
    const ::eqnn::EquivarianceReport eqnn_report_ =                 \
        ::eqnn::check_equivariance((module), (input), (tolerance)); \
    INFO(eqnn_report_.str());                                       \
    macro(eqnn_report_.passed());                                   \
  } while (false)

#define REQUIRE_EQUIVARIANT(module, input) EQNN_EQUIVARIANCE_ASSERT_(REQUIRE, module, input, 0)
#define CHECK_EQUIVARIANT(module, input) EQNN_EQUIVARIANCE_ASSERT_(CHECK, module, input, 0)
#define REQUIRE_EQUIVARIANT_TOL(module, input, tolerance) \
  EQNN_EQUIVARIANCE_ASSERT_(REQUIRE, module, input, tolerance)
