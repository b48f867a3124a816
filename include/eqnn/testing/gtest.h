/// \file
/// GoogleTest one-liners for equivariance tests, the counterparts of eqnn/testing/catch2.h (this
/// header includes <gtest/gtest.h>).
///
///     EXPECT_EQUIVARIANT(layer, x);              // tolerance from the dtype (docs/conventions.md)
///     ASSERT_EQUIVARIANT(model, x);              // fatal: returns from the test on failure
///     EXPECT_EQUIVARIANT_TOL(model, x, 1e-6);    // and ASSERT_EQUIVARIANT_TOL
///
/// Like any GoogleTest assertion they take a streamed message:
/// `EXPECT_EQUIVARIANT(m, x) << "seed 3";`. On failure GoogleTest prints the whole per-element
/// report (EquivarianceReport::str()).
#pragma once

#include <gtest/gtest.h>

#include "eqnn/check.h"

namespace eqnn {
namespace detail {

/// The report as a GoogleTest assertion result: success when it passed, else a failure whose
/// message names the module and input expressions and holds the report.
inline ::testing::AssertionResult equivariance_assertion(const EquivarianceReport& report,
                                                         const char* module_expr,
                                                         const char* input_expr) {
  if (report.passed()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << module_expr << " is not equivariant on " << input_expr << ":\n"
         << report.str();
}

}  // namespace detail
}  // namespace eqnn

// The switch keeps a following `else` from binding to the macro's `if` (as GoogleTest's own macros
// do); `fail` is GTEST_NONFATAL_FAILURE_ or GTEST_FATAL_FAILURE_ (which returns from the test).
/// The body of the macros below (not for direct use).
#define EQNN_GTEST_EQUIVARIANCE_(fail, module, input, tolerance)                                  \
  switch (0)                                                                                      \
  case 0:                                                                                         \
  default:                                                                                        \
    if (const ::testing::AssertionResult eqnn_gtest_ar_ = ::eqnn::detail::equivariance_assertion( \
            ::eqnn::check_equivariance((module), (input), (tolerance)), #module, #input)) {       \
    } else                                                                                        \
      fail(eqnn_gtest_ar_.message())

/// Non-fatal: `module` (a Sequential or an eqnn layer holder) is equivariant on `input`, with the
/// dtype's default tolerance.
#define EXPECT_EQUIVARIANT(module, input) \
  EQNN_GTEST_EQUIVARIANCE_(GTEST_NONFATAL_FAILURE_, module, input, 0)
/// Fatal (returns from the test on failure): `module` is equivariant on `input`.
#define ASSERT_EQUIVARIANT(module, input) \
  EQNN_GTEST_EQUIVARIANCE_(GTEST_FATAL_FAILURE_, module, input, 0)
/// EXPECT_EQUIVARIANT with an explicit tolerance (<= 0: the default).
#define EXPECT_EQUIVARIANT_TOL(module, input, tolerance) \
  EQNN_GTEST_EQUIVARIANCE_(GTEST_NONFATAL_FAILURE_, module, input, tolerance)
/// ASSERT_EQUIVARIANT with an explicit tolerance (<= 0: the default).
#define ASSERT_EQUIVARIANT_TOL(module, input, tolerance) \
  EQNN_GTEST_EQUIVARIANCE_(GTEST_FATAL_FAILURE_, module, input, tolerance)
