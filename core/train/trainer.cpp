#include "core/train/trainer.h"

#include <c10/core/CachingDeviceAllocator.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <optional>

#include "core/augment/augment.h"
#include "core/base/error.h"
#include "core/data/dataset.h"
#include "core/data/normalisation.h"
#include "core/device/device.h"
#include "core/device/engine_plan.h"
#include "core/device/host_memory_cache.h"
#include "core/device/torch_state.h"
#include "core/exchange/weight_import.h"
#include "core/model/models.h"
#include "core/model/optim.h"
#include "core/runs/run_index.h"
#include "core/train/batch_source.h"
#include "core/train/out_of_memory.h"
#include "core/train/run_checkpoints.h"
#include "core/train/training_monitor.h"
#include "core/train/training_step.h"

namespace studio {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Memory the CUDA caching allocator holds on the device (what nvidia-smi shows for this
// process, less the context); -1 when unknown.
double gpuMemoryMb(const torch::Device& device) {
  if (!device.is_cuda()) return -1;
  try {
    const auto stats = c10::getDeviceAllocator(c10::kCUDA)->getDeviceStats(device.index() < 0 ? 0 : device.index());
    return double(stats.reserved_bytes[0].current) / (1024.0 * 1024.0);
  } catch (const c10::Error&) {
    return -1;
  }
}

// Convolution weights in channels-last (NHWC) memory, or back to the default layout.
void setChannelsLast(torch::nn::Module& model, bool on) {
  torch::NoGradGuard no_grad;
  const auto format = on ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
  for (auto& p : model.parameters())
    if (p.dim() == 4) p.set_data(p.data().contiguous(format));
}

RunRecord makeRecord(const ExperimentConfig& c, const RunFolder& f, const std::string& status, double best, bool ended,
                     const std::string& started_at) {
  RunRecord r;
  r.id = f.id();
  r.name = c.name;
  r.dataset = c.dataset.path.empty() ? c.dataset.kind : c.dataset.kind + ":" + c.dataset.path;
  r.method = c.method.name;
  r.status = status;
  r.started_at = started_at;
  r.ended_at = ended ? utcNowIso8601() : "";
  r.best_knn = best;
  r.path = f.path();
  return r;
}

// Writes run.json and mirrors it in the index; the index is best effort (the folder is
// the truth and the index can be rebuilt), so its errors never stop a run.
void publish(const RunRecord& r, const RunFolder& f) {
  writeRunRecord(f.path(), r);
  try {
    RunIndex index(f.runsDir());
    index.upsert(r);
  } catch (const std::exception&) {
  }
}

MetricsRecord infoRecord(int64_t step, std::string text) {
  MetricsRecord r;
  r.kind = "info";
  r.step = step;
  r.text = std::move(text);
  return r;
}

// The record of one optimizer step: loss, positive-pair accuracy, learning rate, speed and
// ETA (from a moving average of step times), the phase times when profiling, and the GPU's
// memory every tenth step.
MetricsRecord stepRecord(int64_t step, int64_t steps_per_epoch, int64_t last_step, int64_t batch_size, double loss,
                         const NtXentResult& result, double lr, double step_seconds, double step_seconds_ema,
                         const StepTimes* times, const BatchSource& source, const torch::Device& device) {
  MetricsRecord r;
  r.kind = "step";
  r.step = step;
  r.epoch = double(step) / steps_per_epoch;
  r.values = {{"loss", loss},
              {"pos_acc", result.pos_accuracy.item<double>()},
              {"lr", lr},
              {"images_per_s", batch_size / step_seconds_ema},
              {"eta_s", step_seconds_ema * double(last_step - step)},
              {"step_ms", step_seconds * 1000.0}};
  if (times) {
    r.values.emplace_back("augment_ms", times->augment_ms);
    r.values.emplace_back("augment_host_work_ms", source.lastHostWorkSeconds() * 1000.0);
    r.values.emplace_back("forward_ms", times->forward_ms);
    r.values.emplace_back("loss_ms", times->loss_ms);
    r.values.emplace_back("backward_ms", times->backward_ms);
    r.values.emplace_back("optimizer_ms", times->optimizer_ms);
  }
  if (device.is_cuda() && (step % 10 == 1 || step == last_step)) {
    const double mb = gpuMemoryMb(device);
    if (mb >= 0) r.values.emplace_back("gpu_memory_mb", mb);
  }
  return r;
}

// The record that closes a finished or cancelled run.
MetricsRecord endRecord(const TrainOutcome& outcome, double epoch) {
  MetricsRecord r;
  r.kind = "end";
  r.step = outcome.steps;
  r.epoch = epoch;
  r.text = outcome.status;
  r.values = {{"best_knn_top1", outcome.best_knn}, {"final_knn_top1", outcome.final_knn},
              {"raw_pixel_knn_top1", outcome.raw_pixel_knn}, {"seconds", outcome.seconds}};
  return r;
}

// The message of whatever ended a run early; engine_error says it was a studio::Error.
std::string describeException(bool& engine_error) {
  engine_error = false;
  try {
    throw;
  } catch (const Error& e) {
    engine_error = true;
    return e.what();
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

}  // namespace

Trainer::Trainer(ExperimentConfig config, const std::string& runs_dir)
    : config_(std::move(config)), folder_(RunFolder::create(runs_dir, config_.name)), resuming_(false) {
  saveExperimentConfig(config_, folder_.configPath());
}

Trainer::Trainer(RunFolder folder)
    : config_(loadExperimentConfig(folder.configPath())), folder_(std::move(folder)), resuming_(true) {}

Trainer::~Trainer() = default;

void Trainer::requestPause() { pause_.store(true); }
void Trainer::requestResume() {
  {
    std::lock_guard<std::mutex> lock(pause_mutex_);
    pause_.store(false);
  }
  pause_cv_.notify_all();
}
void Trainer::requestCancel() {
  {
    std::lock_guard<std::mutex> lock(pause_mutex_);
    cancel_.store(true);
  }
  pause_cv_.notify_all();
}

void Trainer::waitWhilePaused() {
  std::unique_lock<std::mutex> lock(pause_mutex_);
  pause_cv_.wait(lock, [this] { return !pause_.load() || cancel_.load(); });
}

TrainOutcome Trainer::run(const MetricsCallback& on_metrics) {
  const auto t_start = Clock::now();
  TrainOutcome outcome;
  outcome.run_dir = folder_.path();
  std::string started_at = utcNowIso8601();
  if (resuming_) {
    try {
      started_at = readRunRecord(folder_.path()).started_at;
    } catch (const Error&) {
    }
  }
  // Every record goes to metrics.jsonl, then to the caller, who may ask to stop.
  auto emit = [&](const MetricsRecord& r) {
    folder_.appendMetrics(r.toJson());
    if (on_metrics && !on_metrics(r)) cancel_.store(true);
  };
  double best_knn = -1;
  publish(makeRecord(config_, folder_, "running", best_knn, false, started_at), folder_);
  // Threads, seeds and CUDA switches are set for the run and put back after it.
  ScopedTorchState torch_state;

  try {
    // Set-up: data, augmentation, plan, model (weights from elsewhere for a new run), optimizer.
    torch_state.setThreads(config_.train.threads);
    const torch::Device device = resolveDevice(config_.train.device);
    const DatasetSplits data = loadDataset(config_.dataset, config_.train.seed);
    resolveNormalisation(config_, data.train);
    if (!resuming_) saveExperimentConfig(config_, folder_.configPath());

    const auto& tc = config_.train;
    const int64_t n = data.train.size();
    if (n < tc.batch_size)
      throwBadInput("config: train.batch_size = " + std::to_string(tc.batch_size) + " is larger than the " +
                    std::to_string(n) + " training images");
    const int64_t steps_per_epoch = n / tc.batch_size;
    const int64_t total_steps = steps_per_epoch * tc.epochs;
    const int64_t last_step = tc.max_steps > 0 ? std::min(total_steps, tc.max_steps) : total_steps;

    const Augmenter augmenter(config_.augment, data.train.channels(), data.train.height(), data.train.width());
    const EnginePlan plan = planEngine(config_.engine, device, data.train.images.numel(), queryDeviceFacts(device));
    torch_state.applyPlan(plan);
    std::optional<HostMemoryCache> host_cache;
    if (plan.host_memory_cache) host_cache.emplace();
    torch_state.seed(tc.seed);
    ContrastiveModel model = makeContrastiveModel(config_.model, data.train.channels(), augmenter.outSize());
    // Weights from elsewhere start a new run only: a checkpoint already holds what they became.
    std::string init_text;
    if (!config_.model.init_from.empty() && !(resuming_ && folder_.hasCheckpoint())) {
      const WeightMatchReport report =
          loadEncoderWeights(model->backbone(), config_.model.init_from, config_.model.init_strict);
      writeFileAtomically(folder_.initReportPath(), report.toJson().dump(2) + "\n");
      init_text = "encoder initialised from " + report.source + ": " + report.summary();
    }
    model->backbone().freezeStages(config_.optim.freeze_stages);  // before the optimizer: frozen = not optimised
    model->to(device);
    TrainingOptimizer optimizer(config_.optim, *model, steps_per_epoch, total_steps);

    RunCheckpoints checkpoints(folder_, config_, model, optimizer);
    const RunCheckpoints::Start start = checkpoints.restore(resuming_);
    int64_t step = start.step;
    best_knn = start.best_knn;
    // After loading: a checkpoint keeps whatever layout it was written in.
    setChannelsLast(*model, plan.channels_last);

    // The step's views: images uploaded once (when the plan keeps them on the device),
    // batches gathered by index, the host's work prepared ahead on a background thread.
    BatchSourceOptions source_options;
    source_options.batch_size = tc.batch_size;
    source_options.seed = tc.seed;
    source_options.steps_per_epoch = steps_per_epoch;
    source_options.end_step = last_step;
    source_options.device = device;
    source_options.plan = plan;
    BatchSource source(data.train.images, augmenter, source_options);

    if (!init_text.empty()) emit(infoRecord(0, init_text));
    MetricsRecord plan_record = infoRecord(
        step, (resuming_ && step > 0 ? "resuming at step " + std::to_string(step) + " of " : "training ") +
                  std::to_string(last_step) + " steps on " + describeDevice(device) + ": " + std::to_string(n) +
                  " images, batch " + std::to_string(tc.batch_size) + "; " + plan.summary());
    for (const auto& note : plan.notes) plan_record.text += "; " + note;
    plan_record.values = {{"total_steps", double(last_step)}, {"steps_per_epoch", double(steps_per_epoch)}};
    emit(plan_record);

    TrainingMonitor monitor(config_, data, folder_, steps_per_epoch, on_snapshot_);
    outcome.raw_pixel_knn = monitor.rawPixelAccuracy();
    auto evaluate = [&](bool final_eval) {
      const TrainingMonitor::Result r = monitor.evaluate(model, augmenter, device, step, best_knn, final_eval);
      if (!r.measured) return;
      outcome.final_knn = r.knn;
      emit(r.record);
    };
    // The untrained encoder's accuracy starts the curve: what pretraining adds is the gap.
    if (step == 0 && monitor.periodic()) evaluate(false);

    model->train();
    TrainingStep training_step(model, plan, device, config_.method.temperature);
    double step_seconds_ema = 0;
    StepTimes times;
    bool in_optimizer_step = false, in_evaluation = false;
    torch::Tensor fixed_views;  // benchmarks: the first step's views, reused
    try {
      while (step < last_step && !cancel_.load()) {
        if (pause_.load()) {
          waitWhilePaused();
          if (cancel_.load()) break;
        }
        const auto t0 = Clock::now();
        const bool profiling = profiling_.load();
        torch::Tensor views;
        if (fixed_views_) {
          if (!fixed_views.defined()) fixed_views = source.views(step);
          views = fixed_views;
        } else {
          views = source.views(step);
        }
        if (profiling) synchronize(device);
        times.augment_ms = secondsSince(t0) * 1000.0;

        const NtXentResult result = training_step.run(views, optimizer, profiling ? &times : nullptr);
        const double lr = optimizer.lrAt(step);
        const auto t_opt = Clock::now();
        in_optimizer_step = true;
        optimizer.step(step);
        in_optimizer_step = false;
        const double loss = result.loss.item<double>();
        times.optimizer_ms = secondsSince(t_opt) * 1000.0;
        if (!std::isfinite(loss))
          throwFailure("the loss became " + std::to_string(loss) + " at step " + std::to_string(step) +
                       " (lower optim.lr or raise method.temperature)");
        ++step;

        const double dt = secondsSince(t0);
        step_seconds_ema = step_seconds_ema == 0 ? dt : 0.9 * step_seconds_ema + 0.1 * dt;
        emit(stepRecord(step, steps_per_epoch, last_step, tc.batch_size, loss, result, lr, dt, step_seconds_ema,
                        profiling ? &times : nullptr, source, device));

        if (monitor.dueAfter(step, last_step)) {
          in_evaluation = true;
          evaluate(false);
          in_evaluation = false;
        }
        if (step % tc.checkpoint_every_steps == 0 || step == last_step || cancel_.load())
          checkpoints.save(step, best_knn);
      }
    } catch (const c10::OutOfMemoryError&) {
      // Keep what was learned, find a batch size that fits, and say so.
      source.stop();
      optimizer.zeroGrad();
      releaseCachedMemory(device);
      // The model is as it was after `step` steps unless the optimizer itself ran out of
      // memory half-way through its update: then the last checkpoint stands.
      std::string kept;
      if (!in_optimizer_step) {
        checkpoints.save(step, best_knn);
        kept = "the run is checkpointed at step " + std::to_string(step);
      } else {
        const int64_t standing = checkpoints.standing();
        kept = standing >= 0 ? "the optimizer ran out of memory mid-update, so the last checkpoint (step " +
                                   std::to_string(standing) + ") is kept"
                             : "no checkpoint was written yet";
      }
      const OutOfMemoryAdvice advice =
          adviseAfterOutOfMemory(model, device, step, tc.batch_size, in_evaluation, [&](int64_t batch) {
            optimizer.zeroGrad();
            training_step.forwardBackward(source.probeViews(step, batch), nullptr);
          });
      optimizer.zeroGrad();
      releaseCachedMemory(device);
      MetricsRecord r = infoRecord(step, advice.message + "; " + kept);
      r.values = {{"fitting_batch_size", double(advice.fitting_batch)}};
      emit(r);
      throwFailure(r.text);
    }

    // Finalisation: the last evaluation (features saved) and checkpoint, or the stop's.
    if (step == last_step && !cancel_.load()) {
      evaluate(true);
      checkpoints.save(step, best_knn);
      outcome.status = "finished";
    } else {
      if (checkpoints.lastSaved() != step) checkpoints.save(step, best_knn);
      outcome.status = "cancelled";
    }
    outcome.steps = step;
    outcome.best_knn = best_knn;
    outcome.seconds = secondsSince(t_start);
    emit(endRecord(outcome, double(step) / steps_per_epoch));
    publish(makeRecord(config_, folder_, outcome.status, best_knn, true, started_at), folder_);
    return outcome;
  } catch (...) {
    // Whatever ended the run (the engine's errors, LibTorch's, out of memory, anything
    // else): the run is marked failed with the reason, never left saying "running".
    bool engine_error = false;
    const std::string what = describeException(engine_error);
    publish(makeRecord(config_, folder_, "failed", best_knn, true, started_at), folder_);
    MetricsRecord r;
    r.kind = "end";
    r.text = "failed: " + what;
    folder_.appendMetrics(r.toJson());
    if (engine_error) throw;
    throwFailure("training failed: " + what.substr(0, what.find('\n')));
  }
}

}  // namespace studio
