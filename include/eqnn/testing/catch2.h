/// \file
/// Catch2 (v2) one-liners for equivariance tests. Include after <catch2/catch.hpp>.
///
///     REQUIRE_EQUIVARIANT(layer, x);            // tolerance from the dtype (docs/conventions.md)
///     REQUIRE_EQUIVARIANT_TOL(model, x, 1e-6);
///
/// On failure Catch2 prints the whole per-element report.
#pragma once

#include "eqnn/check.h"

/// The body of the macros below (not for direct use): runs check_equivariance, attaches the
/// report with INFO and asserts passed() with `macro` (REQUIRE or CHECK).
#define EQNN_EQUIVARIANCE_ASSERT_(macro, module, input, tolerance)  \
  do {                                                              \
    const ::eqnn::EquivarianceReport eqnn_report_ =                 \
        ::eqnn::check_equivariance((module), (input), (tolerance)); \
    INFO(eqnn_report_.str());                                       \
    macro(eqnn_report_.passed());                                   \
  } while (false)

/// REQUIRE that `module` (a Sequential or an eqnn layer holder) is equivariant on `input`, with
/// the dtype's default tolerance.
#define REQUIRE_EQUIVARIANT(module, input) EQNN_EQUIVARIANCE_ASSERT_(REQUIRE, module, input, 0)
/// CHECK (non-fatal) that `module` is equivariant on `input`, with the default tolerance.
#define CHECK_EQUIVARIANT(module, input) EQNN_EQUIVARIANCE_ASSERT_(CHECK, module, input, 0)
/// REQUIRE_EQUIVARIANT with an explicit tolerance (<= 0: the default).
#define REQUIRE_EQUIVARIANT_TOL(module, input, tolerance) \
  EQNN_EQUIVARIANCE_ASSERT_(REQUIRE, module, input, tolerance)
