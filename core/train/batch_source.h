#pragma once
// The views of each training step, computed from the step number alone: the epoch's order
// comes from a generator seeded by (seed, epoch), the step's parameter tables from one
// seeded by (seed, step), so a resumed run sees exactly the views the uninterrupted one
// saw. With prefetching, the host's share of the work (sampling, gathering, and on the CPU
// the augmentation itself) runs ahead on a background thread through a bounded queue:
// that changes when the work happens, never what it computes. With multi-crop, each step also
// has local views, drawn after the global ones from the step's generator (so a run's global
// views do not depend on how many local ones it draws) by an augmenter of their own.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>

#include <torch/types.h>

#include "core/augment/augment.h"
#include "core/device/engine_plan.h"
#include "core/model/method.h"

namespace studio {

struct BatchSourceOptions {
  int64_t batch_size = 256;
  int64_t seed = 0;
  int64_t steps_per_epoch = 1;
  int64_t end_step = 0;  // the background thread prepares steps up to here (exclusive)
  c10::Device device{c10::kCPU};
  EnginePlan plan;
  // Multi-crop: local views per image and the augmenter that draws them (localViewConfig);
  // none when local_crops is 0.
  int64_t local_crops = 0;
  const Augmenter* local_augmenter = nullptr;
};

class BatchSource {
 public:
  // images: the training split, uint8 [N,C,H,W] on the CPU; uploaded once here when the
  // plan keeps them on the device.
  BatchSource(const torch::Tensor& images, const Augmenter& augmenter, BatchSourceOptions options);
  ~BatchSource();
  BatchSource(const BatchSource&) = delete;
  BatchSource& operator=(const BatchSource&) = delete;

  // The views of `step` on the training device (float32, normalised): 2B global ones (rows i
  // and i+B the two views of one image) and, with multi-crop, L*B local ones. Steps are
  // expected in order; any other step is computed afresh (the queue restarts there).
  ViewBatch views(int64_t step);
  // The same pipeline on the first `count` images of `step`, computed now on this thread
  // (the out-of-memory probe's smaller batches).
  ViewBatch probeViews(int64_t step, int64_t count);
  // Stops the background thread and frees the queue (idempotent).
  void stop();

  // Seconds the last views() call spent on this thread (waiting for the queue included),
  // and seconds the host spent preparing those views, on whichever thread did it.
  double lastSeconds() const { return last_seconds_; }
  double lastHostWorkSeconds() const { return last_work_seconds_; }
  const torch::Tensor& deviceImages() const { return device_images_; }

 private:
  // One augmenter's share of a step's host work (the global views', or the local ones').
  struct ViewWork {
    torch::Tensor indices;  // int64 [V] rows of the images (resident) or of the step's `batch`
    torch::Tensor table;    // float32 [V, kAugmentColumns]
    torch::Tensor weights;  // float32 [V, K] when some view is blurred (kernels)
    torch::Tensor views;    // CPU device: the finished views
    augmath::Pipeline pipeline;
  };
  // A step's host-side work: indices and tables, and on the CPU the finished views.
  struct Prepared {
    int64_t step = -1;
    ViewWork global, local;  // local: multi-crop only
    torch::Tensor batch;     // uint8 [B,C,H,W] gathered on the host (CUDA, not resident)
    double work_seconds = 0;  // host time spent preparing this step
  };
  struct Order {
    int64_t epoch = -1;
    torch::Tensor perm;
  };

  Prepared prepareHost(int64_t step, int64_t count, Order& order, bool use_threads) const;
  // The CUDA device's share of one ViewWork: the upload and the augmentation.
  void prepareForDevice(const Augmenter& augmenter, ViewWork& work) const;
  torch::Tensor finishOnDevice(const Augmenter& augmenter, const ViewWork& work, const torch::Tensor& batch,
                               int64_t parts) const;
  ViewBatch finish(Prepared& prepared) const;
  void startThread(int64_t first_step);
  void produce(int64_t first_step);

  torch::Tensor host_images_, device_images_;
  const Augmenter& augmenter_;
  BatchSourceOptions options_;
  Order order_;  // the calling thread's cache of the epoch order

  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Prepared> queue_;
  std::exception_ptr error_;
  bool stopping_ = false;
  int64_t expected_step_ = -1;
  double last_seconds_ = 0, last_work_seconds_ = 0;
};

}  // namespace studio
