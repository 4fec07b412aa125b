#include "core/train/batch_source.h"

#include <torch/torch.h>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <vector>

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

namespace {

// The reference pipeline on `parts` blocks of views, each block one view of every image of
// `images` (the table's rows part * N + i): one apply per block, as the preview draws them.
torch::Tensor applyInParts(const Augmenter& augmenter, const torch::Tensor& images, const torch::Tensor& table,
                           int64_t parts, bool channels_last) {
  const int64_t count = table.size(0) / parts;
  std::vector<torch::Tensor> blocks;
  for (int64_t part = 0; part < parts; ++part) {
    AugmentParams params;
    params.table = table.slice(0, part * count, (part + 1) * count);
    blocks.push_back(augmenter.apply(images, params));
  }
  auto views = torch::cat(blocks);
  return channels_last ? views.contiguous(torch::MemoryFormat::ChannelsLast) : views;
}

}  // namespace

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
  // The tables from one generator: the first global view's, the second's (the preview draws
  // alike), then the local views', block by block.
  auto gen = makeStepGenerator(o.seed, step, /*stream=*/0);
  Prepared p;
  p.step = step;
  p.global.table = torch::cat({augmenter_.sample(count, gen).table, augmenter_.sample(count, gen).table});
  const int64_t locals = o.local_augmenter ? o.local_crops : 0;
  if (locals > 0) p.local.table = o.local_augmenter->sample(count * locals, gen).table;

  if (!o.device.is_cuda()) {
    if (o.plan.fused_augment) {
      p.global.views = applyFusedCpu(augmenter_, host_images_, torch::cat({idx, idx}), p.global.table,
                                     /*normalize=*/true, o.plan.channels_last, use_threads);
      if (locals > 0)
        p.local.views = applyFusedCpu(*o.local_augmenter, host_images_, idx.repeat({locals}), p.local.table,
                                      /*normalize=*/true, o.plan.channels_last, use_threads);
    } else {
      const auto batch = host_images_.index_select(0, idx);
      p.global.views = applyInParts(augmenter_, batch, p.global.table, 2, o.plan.channels_last);
      if (locals > 0)
        p.local.views = applyInParts(*o.local_augmenter, batch, p.local.table, locals, o.plan.channels_last);
    }
    p.work_seconds = seconds();
    return p;
  }
  // CUDA: the device does the augmentation; the host hands over indices and tables (and
  // the batch's images when they do not live on the device), pinned for async copies.
  if (o.plan.resident) {
    p.global.indices = torch::cat({idx, idx});
    if (locals > 0) p.local.indices = idx.repeat({locals});
  } else {
    p.batch = host_images_.index_select(0, idx).pin_memory();
    const auto rows = torch::arange(count, torch::kLong);
    p.global.indices = torch::cat({rows, rows});
    if (locals > 0) p.local.indices = rows.repeat({locals});
  }
  prepareForDevice(augmenter_, p.global);
  if (locals > 0) prepareForDevice(*o.local_augmenter, p.local);
  p.work_seconds = seconds();
  return p;
}

void BatchSource::prepareForDevice(const Augmenter& augmenter, ViewWork& w) const {
  w.indices = w.indices.pin_memory();
  w.pipeline = augmenter.pipeline(w.table, /*normalize=*/true, options_.plan.channels_last);
  if (options_.plan.fused_augment && w.pipeline.blur) w.weights = augmenter.blurWeights(w.table).pin_memory();
  w.table = w.table.pin_memory();
}

torch::Tensor BatchSource::finishOnDevice(const Augmenter& augmenter, const ViewWork& w, const torch::Tensor& batch,
                                          int64_t parts) const {
  const auto& o = options_;
  auto upload = [&](const torch::Tensor& t) { return t.to(o.device, /*non_blocking=*/true); };
  if (o.plan.fused_augment)
    return deviceKernels()->augment_views(o.plan.resident ? device_images_ : batch, upload(w.indices), upload(w.table),
                                          w.weights.defined() ? upload(w.weights) : torch::Tensor(), w.pipeline);
  const int64_t count = w.table.size(0) / parts;
  const auto images =
      o.plan.resident ? device_images_.index_select(0, upload(w.indices.slice(0, 0, count))) : batch;
  return applyInParts(augmenter, images, w.table, parts, o.plan.channels_last);
}

ViewBatch BatchSource::finish(Prepared& p) const {
  const auto& o = options_;
  if (!o.device.is_cuda()) return {p.global.views, p.local.views};
  const auto batch = p.batch.defined() ? p.batch.to(o.device, /*non_blocking=*/true) : torch::Tensor();
  ViewBatch views(finishOnDevice(augmenter_, p.global, batch, 2));
  if (p.local.table.defined()) views.local = finishOnDevice(*o.local_augmenter, p.local, batch, o.local_crops);
  return views;
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

ViewBatch BatchSource::views(int64_t step) {
  const auto t0 = std::chrono::steady_clock::now();
  ViewBatch result;
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

ViewBatch BatchSource::probeViews(int64_t step, int64_t count) {
  Order order;
  Prepared p = prepareHost(step, std::min(count, options_.batch_size), order, /*use_threads=*/true);
  return finish(p);
}

}  // namespace studio
