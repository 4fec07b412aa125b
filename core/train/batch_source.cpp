#include "core/train/batch_source.h"

#include <torch/torch.h>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>

#include "core/augment/augment_fused.h"
#include "core/device/device_kernels.h"
#include "core/base/error.h"

namespace studio {

BatchSource::BatchSource(const torch::Tensor& images, const Augmenter& augmenter, BatchSourceOptions options)
    : host_images_(images.contiguous()), augmenter_(augmenter), options_(std::move(options)) {
  TORCH_CHECK(host_images_.device().is_cpu() && host_images_.scalar_type() == torch::kUInt8 && host_images_.dim() == 4,
              "BatchSource: the images must be uint8 [N,C,H,W] on the CPU");
  if (options_.device.is_cuda() && options_.plan.resident) device_images_ = host_images_.to(options_.device);
  TORCH_CHECK(!(options_.device.is_cuda() && options_.plan.fused_augment && !deviceKernels()),
              "BatchSource: no CUDA kernels are registered to augment with");
}

BatchSource::~BatchSource() { stop(); }

void BatchSource::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mutex_);
  queue_.clear();
  error_ = nullptr;
  expected_step_ = -1;
}

BatchSource::Prepared BatchSource::prepareHost(int64_t step, int64_t count, Order& order, bool use_threads) const {
  const auto start = std::chrono::steady_clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  const auto& o = options_;
  const int64_t epoch = step / o.steps_per_epoch;
  if (order.epoch != epoch) {
    // The order of an epoch depends on (seed, epoch) only.
    auto gen = makeStepGenerator(o.seed, epoch, /*stream=*/1);
    order.perm = torch::randperm(host_images_.size(0), gen, torch::kLong);
    order.epoch = epoch;
  }
  const int64_t offset = (step % o.steps_per_epoch) * o.batch_size;
  const auto idx = order.perm.slice(0, offset, offset + count);
  // Two tables from one generator, the first view's then the second's (the preview draws alike).
  auto gen = makeStepGenerator(o.seed, step, /*stream=*/0);
  const auto p1 = augmenter_.sample(count, gen);
  const auto p2 = augmenter_.sample(count, gen);

  Prepared p;
  p.step = step;
  p.table = torch::cat({p1.table, p2.table});
  const bool cuda = o.device.is_cuda();
  if (!cuda) {
    if (o.plan.fused_augment) {
      p.views = applyFusedCpu(augmenter_, host_images_, torch::cat({idx, idx}), p.table, /*normalize=*/true,
                              o.plan.channels_last, use_threads);
    } else {
      const auto batch = host_images_.index_select(0, idx);
      p.views = torch::cat({augmenter_.apply(batch, p1), augmenter_.apply(batch, p2)});
      if (o.plan.channels_last) p.views = p.views.contiguous(torch::MemoryFormat::ChannelsLast);
    }
    p.work_seconds = seconds();
    return p;
  }
  // CUDA: the device does the augmentation; the host hands over indices and tables (and
  // the batch's images when they do not live on the device), pinned for async copies.
  if (o.plan.resident) {
    p.indices = torch::cat({idx, idx}).pin_memory();
  } else {
    p.batch = host_images_.index_select(0, idx).pin_memory();
    const auto rows = torch::arange(count, torch::kLong);
    p.indices = torch::cat({rows, rows}).pin_memory();
  }
  p.pipeline = augmenter_.pipeline(p.table, /*normalize=*/true, o.plan.channels_last);
  if (o.plan.fused_augment && p.pipeline.blur) p.weights = augmenter_.blurWeights(p.table).pin_memory();
  p.table = p.table.pin_memory();
  p.work_seconds = seconds();
  return p;
}

torch::Tensor BatchSource::finish(Prepared& p) const {
  const auto& o = options_;
  if (!o.device.is_cuda()) return p.views;
  auto upload = [&](const torch::Tensor& t) { return t.to(o.device, /*non_blocking=*/true); };
  const int64_t count = p.table.size(0) / 2;
  if (o.plan.fused_augment) {
    const auto src = o.plan.resident ? device_images_ : upload(p.batch);
    return deviceKernels()->augment_views(src, upload(p.indices), upload(p.table),
                                          p.weights.defined() ? upload(p.weights) : torch::Tensor(), p.pipeline);
  }
  const auto batch =
      o.plan.resident ? device_images_.index_select(0, upload(p.indices.slice(0, 0, count))) : upload(p.batch);
  AugmentParams p1, p2;
  p1.table = p.table.slice(0, 0, count);
  p2.table = p.table.slice(0, count, 2 * count);
  auto views = torch::cat({augmenter_.apply(batch, p1), augmenter_.apply(batch, p2)});
  return o.plan.channels_last ? views.contiguous(torch::MemoryFormat::ChannelsLast) : views;
}

void BatchSource::produce(int64_t first_step) {
  // Background work yields to the training thread and to the GUI when the machine is busy
  // (a per-thread nice value on Linux, inherited by the threads this one starts).
  const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
  ::setpriority(PRIO_PROCESS, tid, ::getpriority(PRIO_PROCESS, tid) + 5);
  Order order;
  try {
    for (int64_t step = first_step; step < options_.end_step; ++step) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [&] { return stopping_ || static_cast<int64_t>(queue_.size()) < options_.plan.prefetch; });
        if (stopping_) return;
      }
      Prepared p = prepareHost(step, options_.batch_size, order, /*use_threads=*/true);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) return;
        queue_.push_back(std::move(p));
      }
      changed_.notify_all();
    }
  } catch (...) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      error_ = std::current_exception();
    }
    changed_.notify_all();
  }
}

void BatchSource::startThread(int64_t first_step) {
  stop();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = false;
    expected_step_ = first_step;
  }
  thread_ = std::thread([this, first_step] { produce(first_step); });
}

torch::Tensor BatchSource::views(int64_t step) {
  const auto t0 = std::chrono::steady_clock::now();
  torch::Tensor result;
  if (options_.plan.prefetch <= 0 || step >= options_.end_step) {
    Prepared p = prepareHost(step, options_.batch_size, order_, /*use_threads=*/true);
    last_work_seconds_ = p.work_seconds;
    result = finish(p);
  } else {
    if (!thread_.joinable() || step != expected_step_) startThread(step);
    Prepared p;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return !queue_.empty() || error_; });
      if (queue_.empty()) {
        const auto error = error_;
        lock.unlock();
        stop();
        std::rethrow_exception(error);
      }
      p = std::move(queue_.front());
      queue_.pop_front();
      ++expected_step_;
    }
    changed_.notify_all();
    TORCH_INTERNAL_ASSERT(p.step == step, "BatchSource: the queue is out of step");
    last_work_seconds_ = p.work_seconds;
    result = finish(p);
  }
  last_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

torch::Tensor BatchSource::probeViews(int64_t step, int64_t count) {
  Order order;
  Prepared p = prepareHost(step, std::min(count, options_.batch_size), order, /*use_threads=*/true);
  return finish(p);
}

}  // namespace studio
