// The CPU form of the group action, one element on one image, row by row (internal). A "row" is a
// contiguous run of the output: W pixels x C channels in channels_last, W entries of one channel's
// plane row in NCHW. Along a row the source moves by a constant step (the plane action is affine)
// and, in channels_last, every pixel permutes the group axis of its regular fields the same way,
// so no index is decomposed per entry. Same map as detail::group_action_source (tests compare
// them). Used by eqnn::group_action and by the probe's fused metric pass, which fills one row of
// g.f(x) at a time into a cache-resident buffer instead of materialising the transformed map.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "eqnn/detail/group_action_kernel.h"

namespace eqnn {
namespace ops {

class ActionRows {
 public:
  /// Element p.elements[k] on one image of p's shape (p.batch is ignored).
  ActionRows(const detail::GroupActionParams& p, int k)
      : p_(p),
        channels_(p.channels),
        rows_(p.rows),
        cols_(p.cols),
        order_(p.regular ? p.group.order : 1),
        d4_(p.group.grid_index(p.elements[k])) {
    p_.batch = 1;
    p_.num_elements = 1;
    p_.elements[0] = p.elements[k];
    identity_channels_ = true;
    for (int64_t t = 0; t < order_; ++t) {
      // target group index t takes source index g^-1 t
      const int64_t s = p.regular ? p.group.left_divide(p.elements[k], static_cast<int>(t)) : t;
      perm_.push_back(s);
      identity_channels_ = identity_channels_ && s == t;
    }
  }

  /// Rows per image and entries per row.
  int64_t rows() const { return p_.channels_last ? rows_ : channels_ * rows_; }
  int64_t row_length() const { return p_.channels_last ? cols_ * channels_ : cols_; }

  /// channels_last: pixel j of row r takes its channels from image + offset + j * step (entries),
  /// channel f * order + t from channel f * order + channel_source()[t].
  struct Source {
    int64_t offset, step;
  };
  Source source(int64_t r) const {
    int64_t si = 0, sj = 0, si1 = 0, sj1 = 0;
    detail::plane_source(d4_, rows_, cols_, r, 0, &si, &sj);
    detail::plane_source(d4_, rows_, cols_, r, cols_ > 1 ? 1 : 0, &si1, &sj1);
    return {(si * cols_ + sj) * channels_, ((si1 - si) * cols_ + (sj1 - sj)) * channels_};
  }
  bool channels_last() const { return p_.channels_last; }
  int64_t order() const { return order_; }
  const std::vector<int64_t>& channel_source() const { return perm_; }

  /// Writes row r of g.image into out (row_length() entries).
  template <typename scalar_t>
  void fill(int64_t r, const scalar_t* image, scalar_t* out) const {
    if (!p_.channels_last) {
      const int64_t n0 = r * cols_;
      const int64_t s0 = detail::group_action_source(p_, n0);
      const int64_t step = cols_ > 1 ? detail::group_action_source(p_, n0 + 1) - s0 : 0;
      const scalar_t* from = image + s0;
      for (int64_t j = 0; j < cols_; ++j)
        out[j] = from[j * step];
      return;
    }
    const Source src = source(r);
    const int64_t c = channels_;
    const scalar_t* from = image + src.offset;
    for (int64_t j = 0; j < cols_; ++j, from += src.step, out += c) {
      if (identity_channels_) {
        std::copy(from, from + c, out);
        continue;
      }
      const int64_t* pk = perm_.data();
      for (int64_t f = 0; f < c; f += order_)
        for (int64_t t = 0; t < order_; ++t)
          out[f + t] = from[f + pk[t]];
    }
  }

 private:
  detail::GroupActionParams p_;
  int64_t channels_, rows_, cols_, order_;
  int d4_;
  bool identity_channels_;
  std::vector<int64_t> perm_;
};

}  // namespace ops
}  // namespace eqnn
