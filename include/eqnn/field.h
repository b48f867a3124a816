/// \file
/// Field types: how the group acts on a feature map. Feature maps stay plain torch::Tensor (NCHW,
/// channel = field * |G| + element for regular fields); the type lives in the modules.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <ostream>
#include <string>

#include "eqnn/group.h"

namespace eqnn {

/// How the group acts on the channels of one field.
enum class FieldKind {
  Trivial,  ///< one channel per field; the group moves the plane only (e.g. an input image).
  Regular,  ///< |G| channels per field; the group moves the plane and permutes the group axis.
};

/// A number of fields of one kind over a group. num_fields == kAnyFields means the module accepts
/// any number (e.g. GroupPool without a pinned field count); the action then works for any channel
/// count.
struct FieldType {
  /// num_fields of a type that accepts any number of fields.
  static constexpr int64_t kAnyFields = -1;

  Group group;                          ///< the group acting on the fields
  FieldKind kind = FieldKind::Trivial;  ///< how it acts on each field
  int64_t num_fields = kAnyFields;      ///< number of fields, or kAnyFields

  /// `num_fields` regular fields of `group` (|G| channels each).
  static FieldType regular(Group group, int64_t num_fields = kAnyFields);
  /// `num_fields` trivial fields of `group` (one channel each).
  static FieldType trivial(Group group, int64_t num_fields = kAnyFields);

  /// |G| for regular fields, 1 for trivial ones.
  int64_t channels_per_field() const { return kind == FieldKind::Regular ? group.order() : 1; }
  /// Total channels, or kAnyFields when the count is not fixed.
  int64_t channels() const;
  /// True when the number of fields is not fixed (kAnyFields).
  bool any_fields() const { return num_fields == kAnyFields; }

  /// The action of element `element` on a feature map of this type: (B, C, H, W), or (B, C) for
  /// features without a plane (e.g. after global pooling and flattening).
  torch::Tensor act(const torch::Tensor& x, int64_t element) const;

  /// Throws, naming `who`, unless x is (B, C, H, W) with this type's channel layout.
  void check_input(const torch::Tensor& x, const std::string& who) const;

  /// e.g. "8 regular D4 fields (64 channels)".
  std::string str() const;

  /// Same group, kind and number of fields.
  friend bool operator==(const FieldType& a, const FieldType& b) {
    return a.group == b.group && a.kind == b.kind && a.num_fields == b.num_fields;
  }
  /// Not operator==.
  friend bool operator!=(const FieldType& a, const FieldType& b) { return !(a == b); }
};

/// Writes type.str().
std::ostream& operator<<(std::ostream& os, const FieldType& type);

}  // namespace eqnn
