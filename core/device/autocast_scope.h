#pragma once
// Mixed precision for a block of code: while an AutocastScope lives, the operators torch
// lists for autocast (convolutions, matrix products) run in the given reduced precision
// on that device type, the rest in float32. The C++ counterpart of Python's torch.autocast.
#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>

namespace studio {

class AutocastScope {
 public:
  // enabled = false makes the scope a no-op (one code path for both precisions).
  AutocastScope(c10::DeviceType device, c10::ScalarType dtype, bool enabled);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  c10::DeviceType device_;
  bool enabled_, previous_enabled_ = false;
  c10::ScalarType previous_dtype_ = c10::ScalarType::Undefined;
};

}  // namespace studio
