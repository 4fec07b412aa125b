#include "core/train/out_of_memory.h"

#include <c10/core/CachingDeviceAllocator.h>
#include <torch/torch.h>

#include <vector>

#include "core/device/batch_probe.h"
#include "core/device/device.h"

namespace studio {

void releaseCachedMemory(const torch::Device& device) {
  if (device.is_cuda()) c10::getDeviceAllocator(c10::kCUDA)->emptyCache();
}

bool fitsInMemory(ContrastiveModel& model, const torch::Device& device, const std::function<void()>& pass) {
  std::vector<torch::Tensor> saved;
  {
    torch::NoGradGuard no_grad;
    for (const auto& b : model->buffers()) saved.push_back(b.clone());
  }
  bool fits = true;
  try {
    pass();
  } catch (const c10::OutOfMemoryError&) {
    fits = false;
  }
  {
    torch::NoGradGuard no_grad;
    auto buffers = model->buffers();
    for (size_t i = 0; i < buffers.size(); ++i) buffers[i].copy_(saved[i]);
  }
  releaseCachedMemory(device);
  return fits;
}

OutOfMemoryAdvice adviseAfterOutOfMemory(ContrastiveModel& model, const torch::Device& device, int64_t step,
                                         int64_t batch_size, bool in_evaluation,
                                         const std::function<void(int64_t batch)>& pass) {
  OutOfMemoryAdvice advice;
  const std::string where = describeDevice(device);
  if (in_evaluation) {
    advice.message = "out of memory on " + where + " during the kNN evaluation at step " + std::to_string(step) +
                     ": lower monitor.bank_size or monitor.query_size";
    return advice;
  }
  const BatchProbe probe = probeFittingBatch(batch_size, 2, [&](int64_t b) {
    return fitsInMemory(model, device, [&] { pass(b); });
  });
  advice.fitting_batch = probe.fitting;
  advice.message = "out of memory on " + where + " at step " + std::to_string(step) + " with train.batch_size = " +
                   std::to_string(batch_size) + "; ";
  advice.message += probe.fitting > 0 ? "a batch of " + std::to_string(probe.fitting) + " fits (probed by halving: " +
                                            probe.describe() + "): start again with --set train.batch_size=" +
                                            std::to_string(probe.fitting)
                                      : "not even a batch of 2 fits (" + probe.describe() +
                                            "): choose a smaller model or image size";
  return advice;
}

}  // namespace studio
