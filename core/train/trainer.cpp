#include "core/train/trainer.h"

#include <c10/core/CachingDeviceAllocator.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <memory>
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
#include "core/methods/methods.h"
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
  r.dataset = c.dataset.path.empty() ? wordOf(c.dataset.kind) : wordOf(c.dataset.kind) + ":" + c.dataset.path;
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
  r.kind = RecordKind::Info;
  r.step = step;
  r.text = std::move(text);
  return r;
}

// Everything a run trains with, made from its config: the device, the data, the schedule,
// the augmenter, the engine plan, the model (weights from elsewhere for a new run) and the
// optimizer. Threads, TF32 and the seed go through torch_state.
struct PreparedRun {
  torch::Device device{torch::kCPU};
  DatasetSplits data;
  int64_t steps_per_epoch = 0, total_steps = 0, last_step = 0;
  std::unique_ptr<Augmenter> augmenter;
  std::unique_ptr<Augmenter> local_augmenter;  // multi-crop's local views; null without them
  EnginePlan plan;
  ContrastiveModel model{nullptr};
  std::unique_ptr<TrainingOptimizer> optimizer;
  std::string init_text;  // how the encoder was initialised from weights elsewhere, if it was
};

PreparedRun prepareRun(ExperimentConfig& config, const RunFolder& folder, bool resuming, ScopedTorchState& torch_state) {
  PreparedRun p;
  checkMethodConfig(config.method, config.augment);  // before the data loads: a bad method fails at once
  torch_state.setThreads(config.train.threads);
  p.device = resolveDevice(config.train.device);
  p.data = loadDataset(config.dataset, config.train.seed);
  resolveNormalisation(config, p.data.train);
  if (!resuming) saveExperimentConfig(config, folder.configPath());

  const auto& tc = config.train;
  const int64_t n = p.data.train.size();
  if (n < tc.batch_size)
    throwBadInput("config: train.batch_size = " + std::to_string(tc.batch_size) + " is larger than the " +
                  std::to_string(n) + " training images");
  p.steps_per_epoch = n / tc.batch_size;
  p.total_steps = p.steps_per_epoch * tc.epochs;
  p.last_step = tc.max_steps > 0 ? std::min(p.total_steps, tc.max_steps) : p.total_steps;

  const Dataset& train = p.data.train;
  p.augmenter = std::make_unique<Augmenter>(config.augment, train.channels(), train.height(), train.width());
  if (config.augment.local_crops > 0)
    p.local_augmenter = std::make_unique<Augmenter>(localViewConfig(config.augment, p.augmenter->outSize()),
                                                    train.channels(), train.height(), train.width());
  p.plan = planEngine(config.engine, p.device, train.images.numel(), queryDeviceFacts(p.device));
  torch_state.applyPlan(p.plan);
  torch_state.seed(tc.seed);
  p.model = makeContrastiveModel(config.model, config.method, train.channels(), p.augmenter->outSize());
  // Weights from elsewhere start a new run only: a checkpoint already holds what they became.
  if (!config.model.init_from.empty() && !(resuming && folder.hasCheckpoint())) {
    const WeightMatchReport report =
        loadEncoderWeights(p.model->backbone(), config.model.init_from, config.model.init_strict);
    writeFileAtomically(folder.initReportPath(), report.toJson().dump(2) + "\n");
    p.init_text = "encoder initialised from " + report.source + ": " + report.summary();
    p.model->method().startFrom(p.model->backbone());  // an EMA target starts from the imported weights too
  }
  if (p.plan.cuda_graph && !p.model->method().capturable()) {
    p.plan.cuda_graph = false;
    p.plan.notes.push_back("no CUDA graph: " + config.method.name + " updates its target, queue or centre between steps");
  }
  if (p.plan.cuda_graph && p.local_augmenter) {
    p.plan.cuda_graph = false;
    p.plan.notes.push_back("no CUDA graph: local views (multi-crop) train eagerly");
  }
  p.model->backbone().freezeStages(config.optim.freeze_stages);  // before the optimizer: frozen = not optimised
  p.model->to(p.device);
  p.optimizer = std::make_unique<TrainingOptimizer>(config.optim, *p.model, p.steps_per_epoch, p.total_steps);
  return p;
}

// The record of one optimizer step: loss, positive-pair accuracy, learning rate, speed and
// ETA (from a moving average of step times), the phase times when profiling, and the GPU's
// memory every tenth step.
MetricsRecord stepRecord(int64_t step, int64_t steps_per_epoch, int64_t last_step, int64_t batch_size, double loss,
                         const MethodOutput& result, const std::vector<std::string>& metric_names, double lr,
                         double step_seconds, double step_seconds_ema, const StepTimes* times, const BatchSource& source,
                         const torch::Device& device) {
  MetricsRecord r;
  r.kind = RecordKind::Step;
  r.step = step;
  r.epoch = double(step) / steps_per_epoch;
  r.values = {{"loss", loss}};
  for (size_t i = 0; i < metric_names.size() && i < result.metrics.size(); ++i)
    r.values.emplace_back(metric_names[i], result.metrics[i].item<double>());
  r.values.insert(r.values.end(), {{"lr", lr},
                                   {"images_per_s", batch_size / step_seconds_ema},
                                   {"eta_s", step_seconds_ema * double(last_step - step)},
                                   {"step_ms", step_seconds * 1000.0}});
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
  r.kind = RecordKind::End;
  r.step = outcome.steps;
  r.epoch = epoch;
  r.text = outcome.status;
  r.values = {{"best_knn_top1", outcome.best_knn}, {"final_knn_top1", outcome.final_knn},
              {"raw_pixel_knn_top1", outcome.raw_pixel_knn}, {"seconds", outcome.seconds}};
  return r;
}

// The config with its method checked and every setting of the selected method written out, so
// that config.json says exactly what trained (BadInput, before a run folder exists, otherwise).
ExperimentConfig withResolvedMethod(ExperimentConfig config) {
  config.method = resolvedMethodConfig(config.method);
  return config;
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
    : config_(withResolvedMethod(std::move(config))), folder_(RunFolder::create(runs_dir, config_.name)), resuming_(false) {
  saveExperimentConfig(config_, folder_.configPath());
}

Trainer::Trainer(RunFolder folder)
    : config_(withResolvedMethod(loadExperimentConfig(folder.configPath()))), folder_(std::move(folder)), resuming_(true) {}

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
    PreparedRun p = prepareRun(config_, folder_, resuming_, torch_state);
    // Freed CPU tensor memory kept for reuse while the run lasts (engine.host_memory_cache).
    std::optional<HostMemoryCache> host_cache;
    if (p.plan.host_memory_cache) host_cache.emplace();
    const auto& tc = config_.train;
    const torch::Device device = p.device;
    const DatasetSplits& data = p.data;
    const int64_t steps_per_epoch = p.steps_per_epoch, last_step = p.last_step;
    const Augmenter& augmenter = *p.augmenter;
    const EnginePlan& plan = p.plan;
    ContrastiveModel& model = p.model;
    TrainingOptimizer& optimizer = *p.optimizer;
    const int64_t n = data.train.size();
    const std::string& init_text = p.init_text;

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
    source_options.local_crops = config_.augment.local_crops;
    source_options.local_augmenter = p.local_augmenter.get();
    BatchSource source(data.train.images, augmenter, source_options);

    if (!init_text.empty()) emit(infoRecord(0, init_text));
    MetricsRecord plan_record = infoRecord(
        step, (resuming_ && step > 0 ? "resuming at step " + std::to_string(step) + " of " : "training ") +
                  std::to_string(last_step) + " steps on " + describeDevice(device) + ": " + std::to_string(n) +
                  " images, batch " + std::to_string(tc.batch_size) + "; " + plan.summary());
    if (p.local_augmenter)
      plan_record.text += "; multi-crop: " + std::to_string(config_.augment.local_crops) + " local views of " +
                          std::to_string(p.local_augmenter->outSize()) + " px per image";
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
      if (!r.collapse_warning.empty()) {
        MetricsRecord warning = infoRecord(step, r.collapse_warning);
        warning.values = {{"collapse_warning", 1.0}};
        emit(warning);
      }
    };
    // The untrained encoder's accuracy starts the curve: what pretraining adds is the gap.
    if (step == 0 && monitor.periodic()) evaluate(false);

    model->train();
    MethodStep step_shape;
    step_shape.steps_per_epoch = steps_per_epoch;
    step_shape.total_steps = p.total_steps;
    TrainingStep training_step(model, plan, device, step_shape);
    const std::vector<std::string> metric_names = model->method().metricNames();
    const bool has_temperature = methodValues(config_.method).all().count("temperature") > 0;
    double step_seconds_ema = 0;
    StepTimes times;
    bool in_optimizer_step = false, in_evaluation = false;
    ViewBatch fixed_views;  // benchmarks: the first step's views, reused
    try {
      while (step < last_step && !cancel_.load()) {
        if (pause_.load()) {
          waitWhilePaused();
          if (cancel_.load()) break;
        }
        const auto t0 = Clock::now();
        const bool profiling = profiling_.load();
        ViewBatch views;
        if (fixed_views_) {
          if (!fixed_views.global.defined()) fixed_views = source.views(step);
          views = fixed_views;
        } else {
          views = source.views(step);
        }
        if (profiling) synchronize(device);
        times.augment_ms = secondsSince(t0) * 1000.0;

        const MethodOutput result = training_step.run(views, step, optimizer, profiling ? &times : nullptr);
        const double lr = optimizer.lrAt(step);
        const auto t_opt = Clock::now();
        in_optimizer_step = true;
        optimizer.step(step);
        model->method().afterStep(model->backbone(), step + 1, p.total_steps);
        in_optimizer_step = false;
        const double loss = result.loss.item<double>();
        times.optimizer_ms = secondsSince(t_opt) * 1000.0;
        if (!std::isfinite(loss))
          throwFailure("the loss became " + std::to_string(loss) + " at step " + std::to_string(step) +
                       (has_temperature ? " (lower optim.lr or raise method." + config_.method.name + ".temperature)"
                                        : " (lower optim.lr)"));
        ++step;

        const double dt = secondsSince(t0);
        step_seconds_ema = step_seconds_ema == 0 ? dt : 0.9 * step_seconds_ema + 0.1 * dt;
        emit(stepRecord(step, steps_per_epoch, last_step, tc.batch_size, loss, result, metric_names, lr, dt,
                        step_seconds_ema, profiling ? &times : nullptr, source, device));

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
            training_step.forwardBackward(source.probeViews(step, batch), step, nullptr);
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
    r.kind = RecordKind::End;
    r.text = "failed: " + what;
    folder_.appendMetrics(r.toJson());
    if (engine_error) throw;
    throwFailure("training failed: " + what.substr(0, what.find('\n')));
  }
}

}  // namespace studio
