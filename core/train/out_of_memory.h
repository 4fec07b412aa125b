#pragma once
// When a run runs out of device memory: hand the allocator's cached blocks back, and tell the
// user what fits. The advice names the device, the step and, for a training step, the largest
// batch whose forward and backward pass fits (probed by halving, the model's buffers put back
// after each try); for an evaluation, the monitor settings to lower.
#include <cstdint>
#include <functional>
#include <string>

#include <torch/types.h>

#include "core/model/method.h"

namespace studio {

void releaseCachedMemory(const torch::Device& device);

// Whether pass (a forward and backward pass) runs without running out of memory. The model's
// buffers (BatchNorm's running statistics) are put back as they were.
bool fitsInMemory(ContrastiveModel& model, const torch::Device& device, const std::function<void()>& pass);

struct OutOfMemoryAdvice {
  std::string message;         // "out of memory on cuda:0 (...) at step 12 with train.batch_size = 8192; ..."
  int64_t fitting_batch = 0;   // 0 when none fits or nothing was probed
};
// pass(batch) runs one forward and backward pass at that batch size (gradients reset before).
// The caller resets the gradients and releases the cached memory afterwards.
OutOfMemoryAdvice adviseAfterOutOfMemory(ContrastiveModel& model, const torch::Device& device, int64_t step,
                                         int64_t batch_size, bool in_evaluation,
                                         const std::function<void(int64_t batch)>& pass);

}  // namespace studio
