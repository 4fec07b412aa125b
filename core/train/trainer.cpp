#include "core/train/trainer.h"

#include <ATen/DeviceAccelerator.h>
#include <c10/core/CachingDeviceAllocator.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <optional>

#include "core/augment/augment.h"
#include "core/device/autocast_scope.h"
#include "core/device/batch_probe.h"
#include "core/train/batch_source.h"
#include "core/model/checkpoint.h"
#include "core/data/dataset.h"
#include "core/device/device.h"
#include "core/device/engine_plan.h"
#include "core/base/error.h"
#include "core/device/host_memory_cache.h"
#include "core/eval/knn.h"
#include "core/model/losses.h"
#include "core/model/models.h"
#include "core/base/npy.h"
#include "core/model/optim.h"
#include "core/runs/run_embeddings.h"
#include "core/runs/run_index.h"
#include "core/exchange/weight_import.h"

#include "core/device/device_kernels.h"

namespace studio {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The labeled images the kNN monitor uses: a fixed bank from the training split and
// fixed queries from the held-out split, the same for every evaluation of a run.
struct KnnProbe {
  torch::Tensor bank_images, bank_labels, query_images, query_labels;
  int64_t num_classes = 0;
  bool usable() const { return bank_images.defined() && query_images.defined(); }
};

KnnProbe makeProbe(const DatasetSplits& data, int64_t bank_size, int64_t query_size, int64_t seed) {
  KnnProbe p;
  if (!data.train.labeled() || data.eval.size() == 0 || !data.eval.labeled()) return p;
  auto gen = makeStepGenerator(seed, 0, /*stream=*/7);
  const int64_t nb = bank_size > 0 ? std::min(bank_size, data.train.size()) : data.train.size();
  const auto bank_idx = torch::randperm(data.train.size(), gen, torch::kLong).slice(0, 0, nb);
  const int64_t nq = query_size > 0 ? std::min(query_size, data.eval.size()) : data.eval.size();
  p.bank_images = data.train.images.index_select(0, bank_idx);
  p.bank_labels = data.train.labels.index_select(0, bank_idx);
  p.query_images = data.eval.images.slice(0, 0, nq);
  p.query_labels = data.eval.labels.slice(0, 0, nq);
  p.num_classes = data.train.numClasses();
  return p;
}

double probeAccuracy(const KnnProbe& p, const torch::Tensor& bank, const torch::Tensor& queries, const MonitorConfig& m) {
  KnnOptions o;
  o.k = m.k;
  o.temperature = m.temperature;
  return knnAccuracy(bank, p.bank_labels, queries, p.query_labels, p.num_classes, o);
}

double modelProbeAccuracy(const KnnProbe& p, ContrastiveModel& model, const Augmenter& aug, const torch::Device& device,
                          const MonitorConfig& m, torch::Tensor* query_embeddings = nullptr) {
  const auto bank = embedImages(model, aug, p.bank_images, device);
  const auto queries = embedImages(model, aug, p.query_images, device);
  if (query_embeddings) *query_embeddings = queries;
  return probeAccuracy(p, bank, queries, m);
}

// The images of the embedding map: the first map_size held-out images (the kNN queries
// start with the same ones, so their embeddings come for free), else a fixed sample of the
// training split.
Dataset makeMapSet(const DatasetSplits& data, int64_t map_size, int64_t seed) {
  if (map_size <= 0) return {};
  if (data.eval.size() > 0) return data.eval.subset(torch::arange(std::min(map_size, data.eval.size()), torch::kInt64));
  auto gen = makeStepGenerator(seed, 0, /*stream=*/8);
  const int64_t m = std::min(map_size, data.train.size());
  return data.train.subset(torch::randperm(data.train.size(), gen, torch::kLong).slice(0, 0, m));
}

EmbeddingSnapshot makeSnapshot(const torch::Tensor& features, const ImageTable& images, int64_t step, double epoch) {
  EmbeddingSnapshot s;
  const auto f = features.to(torch::kCPU, torch::kFloat32).contiguous();
  s.step = step;
  s.epoch = epoch;
  s.rows = f.size(0);
  s.dims = f.size(1);
  s.features.assign(f.data_ptr<float>(), f.data_ptr<float>() + f.numel());
  s.images = images;
  return s;
}

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

// Phase times of one step, in milliseconds (filled when profiling).
struct StepTimes {
  double augment_ms = 0, forward_ms = 0, loss_ms = 0, backward_ms = 0, optimizer_ms = 0;
};

// Process-wide CUDA switches of the plan (TF32, cuDNN autotuning).
void applyDeviceSettings(const EnginePlan& plan) {
  if (!plan.cuda) return;
  auto& context = at::globalContext();
  context.setAllowTF32CuBLAS(plan.tf32);
  context.setAllowTF32CuDNN(plan.tf32);
  context.setBenchmarkCuDNN(plan.cudnn_benchmark);
}

// Convolution weights in channels-last (NHWC) memory, or back to the default layout.
void setChannelsLast(torch::nn::Module& model, bool on) {
  torch::NoGradGuard no_grad;
  const auto format = on ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
  for (auto& p : model.parameters())
    if (p.dim() == 4) p.set_data(p.data().contiguous(format));
}

// Hands the CUDA allocator's cached blocks back to the device (after an out-of-memory failure).
void releaseCachedMemory(const torch::Device& device) {
  if (device.is_cuda()) c10::getDeviceAllocator(c10::kCUDA)->emptyCache();
}

// Whether `pass` (a forward and backward pass) runs without running out of memory. The
// model's buffers (BatchNorm's running statistics) are put back as they were.
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

void setThreads(int64_t threads) {
  if (threads > 0) torch::set_num_threads(static_cast<int>(threads));
}

// Fills in what "measure it" config values resolve to, so config.json says exactly what ran.
void resolveNormalisation(ExperimentConfig& config, const Dataset& train) {
  auto& a = config.augment;
  if (a.mean.empty()) channelStats(train, a.mean, a.std);
  if (static_cast<int64_t>(a.mean.size()) != train.channels())
    throwBadInput("config: augment.mean has " + std::to_string(a.mean.size()) + " values but the images have " +
                  std::to_string(train.channels()) + " channel(s)");
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
  auto emit = [&](const MetricsRecord& r) {
    folder_.appendMetrics(r.toJson());
    return on_metrics ? on_metrics(r) : true;
  };
  double best_knn = -1;
  publish(makeRecord(config_, folder_, "running", best_knn, false, started_at), folder_);

  try {
    setThreads(config_.train.threads);
    const torch::Device device = resolveDevice(config_.train.device);
    DatasetSplits data = loadDataset(config_.dataset, config_.train.seed);
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

    Augmenter augmenter(config_.augment, data.train.channels(), data.train.height(), data.train.width());
    const EnginePlan plan = planEngine(config_.engine, device, data.train.images.numel(), queryDeviceFacts(device));
    applyDeviceSettings(plan);
    std::optional<HostMemoryCache> host_cache;
    if (plan.host_memory_cache) host_cache.emplace();
    torch::manual_seed(static_cast<uint64_t>(tc.seed));
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

    int64_t step = 0;
    int64_t checkpointed_step = -1;
    if (resuming_ && folder_.hasCheckpoint()) {
      const CheckpointInfo info = loadCheckpoint(folder_.checkpointPath(), model, &optimizer);
      step = info.step;
      best_knn = info.best_knn;
      folder_.truncateMetricsAfter(step);
    } else if (resuming_) {
      folder_.truncateMetricsAfter(0);
    }
    // After loading: a checkpoint keeps whatever layout it was written in.
    setChannelsLast(*model, plan.channels_last);
    auto checkpoint = [&]() {
      CheckpointInfo info;
      info.step = step;
      info.best_knn = best_knn;
      info.config_json = config_.toJson().dump();
      saveCheckpoint(folder_.checkpointPath(), model, &optimizer, info);
      checkpointed_step = step;
    };

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

    if (!init_text.empty()) {
      MetricsRecord init;
      init.kind = "info";
      init.text = init_text;
      if (!emit(init)) cancel_.store(true);
    }
    MetricsRecord info;
    info.kind = "info";
    info.step = step;
    info.text = (resuming_ && step > 0 ? "resuming at step " + std::to_string(step) + " of " : "training ") +
                std::to_string(last_step) + " steps on " + describeDevice(device) + ": " + std::to_string(n) +
                " images, batch " + std::to_string(tc.batch_size) + "; " + plan.summary();
    for (const auto& note : plan.notes) info.text += "; " + note;
    info.values = {{"total_steps", double(last_step)}, {"steps_per_epoch", double(steps_per_epoch)}};
    if (!emit(info)) cancel_.store(true);

    const KnnProbe probe = makeProbe(data, config_.monitor.bank_size, config_.monitor.query_size, tc.seed);
    if (probe.usable()) {
      outcome.raw_pixel_knn = probeAccuracy(probe, rawPixelFeatures(probe.bank_images), rawPixelFeatures(probe.query_images),
                                            config_.monitor);
    }
    const int64_t eval_every =
        config_.monitor.every_epochs > 0
            ? std::max<int64_t>(1, static_cast<int64_t>(std::llround(config_.monitor.every_epochs * steps_per_epoch)))
            : 0;
    const Dataset map_set = on_snapshot_ ? makeMapSet(data, config_.monitor.map_size, tc.seed) : Dataset{};
    const ImageTable map_images = toImageTable(map_set);
    auto publishMap = [&](const torch::Tensor& query_embeddings) {
      if (map_set.size() == 0) return;
      torch::Tensor features;
      if (query_embeddings.defined() && data.eval.size() > 0 && query_embeddings.size(0) >= map_set.size())
        features = query_embeddings.slice(0, 0, map_set.size());
      else
        features = embedImages(model, augmenter, map_set.images, device);
      on_snapshot_(makeSnapshot(features, map_images, step, double(step) / steps_per_epoch));
    };
    auto evaluate = [&](bool final_eval) {
      if (!probe.usable()) {
        publishMap({});
        return;
      }
      const auto t0 = Clock::now();
      torch::Tensor query_embeddings;
      const double acc = modelProbeAccuracy(probe, model, augmenter, device, config_.monitor, &query_embeddings);
      publishMap(query_embeddings);
      best_knn = std::max(best_knn, acc);
      outcome.final_knn = acc;
      MetricsRecord r;
      r.kind = "eval";
      r.step = step;
      r.epoch = double(step) / steps_per_epoch;
      r.values = {{"knn_top1", acc}, {"raw_pixel_knn_top1", outcome.raw_pixel_knn}, {"best_knn_top1", best_knn},
                  {"eval_seconds", secondsSince(t0)}};
      if (final_eval) {
        const auto e = query_embeddings.contiguous();
        writeNpy(folder_.embeddingsPath(), "<f4", {e.size(0), e.size(1)}, e.data_ptr<float>());
        const auto l = probe.query_labels.contiguous();
        writeNpy(folder_.embeddingLabelsPath(), "<i8", {l.size(0)}, l.data_ptr<int64_t>());
      }
      if (!emit(r)) cancel_.store(true);
    };

    // The untrained encoder's accuracy starts the curve: what pretraining adds is the gap.
    if (step == 0 && eval_every > 0) evaluate(false);

    model->train();
    double step_seconds_ema = 0;
    // One forward and backward pass; the optimizer steps outside. Also what the
    // out-of-memory probe runs at smaller batch sizes.
    StepTimes times;
    auto forwardBackward = [&](const torch::Tensor& views, StepTimes* t) {
      auto mark = [&](double* slot, Clock::time_point& since) {
        if (!t) return;
        if (device.is_cuda()) at::accelerator::synchronizeDevice(device.index() < 0 ? 0 : device.index());
        const auto now = Clock::now();
        *slot = std::chrono::duration<double, std::milli>(now - since).count();
        since = now;
      };
      auto since = Clock::now();
      torch::Tensor z;
      {
        AutocastScope autocast(device.type(), torch::kBFloat16, plan.bf16);
        z = model->forward(views);
      }
      mark(t ? &t->forward_ms : nullptr, since);
      // The loss in float32, outside autocast: cosine similarities over a temperature
      // need more than bf16's 8 bits.
      NtXentResult result = ntXentLoss(z, config_.method.temperature);
      mark(t ? &t->loss_ms : nullptr, since);
      result.loss.backward();
      mark(t ? &t->backward_ms : nullptr, since);
      return result;
    };
    // CUDA-graph capture of the forward and backward pass (engine.cuda_graph; the plan
    // asks for it only when registered kernels can capture).
    std::unique_ptr<CapturedPass> graph;
    if (plan.cuda_graph)
      graph = deviceKernels()->capture_pass([&](const torch::Tensor& views) {
        const NtXentResult r = forwardBackward(views, nullptr);
        return std::vector<torch::Tensor>{r.loss, r.pos_accuracy};
      });
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
        if (profiling && device.is_cuda()) at::accelerator::synchronizeDevice(device.index() < 0 ? 0 : device.index());
        times.augment_ms = secondsSince(t0) * 1000.0;

        NtXentResult result;
        if (graph) {
          // Once captured, the replays write the gradients in place: they are not reset.
          if (!graph->captured()) optimizer.zeroGrad();
          const auto t_pass = Clock::now();
          const auto outputs = graph->run(views);
          result.loss = outputs[0];
          result.pos_accuracy = outputs[1];
          if (profiling) {
            at::accelerator::synchronizeDevice(device.index() < 0 ? 0 : device.index());
            times.forward_ms = secondsSince(t_pass) * 1000.0;  // forward and backward in one replay
            times.loss_ms = times.backward_ms = 0;
          }
        } else {
          optimizer.zeroGrad();
          result = forwardBackward(views, profiling ? &times : nullptr);
        }
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
        MetricsRecord r;
        r.kind = "step";
        r.step = step;
        r.epoch = double(step) / steps_per_epoch;
        r.values = {{"loss", loss},
                    {"pos_acc", result.pos_accuracy.item<double>()},
                    {"lr", lr},
                    {"images_per_s", tc.batch_size / step_seconds_ema},
                    {"eta_s", step_seconds_ema * double(last_step - step)},
                    {"step_ms", dt * 1000.0}};
        if (profiling) {
          r.values.emplace_back("augment_ms", times.augment_ms);
          r.values.emplace_back("augment_host_work_ms", source.lastHostWorkSeconds() * 1000.0);
          r.values.emplace_back("forward_ms", times.forward_ms);
          r.values.emplace_back("loss_ms", times.loss_ms);
          r.values.emplace_back("backward_ms", times.backward_ms);
          r.values.emplace_back("optimizer_ms", times.optimizer_ms);
        }
        if (device.is_cuda() && (step % 10 == 1 || step == last_step)) {
          const double mb = gpuMemoryMb(device);
          if (mb >= 0) r.values.emplace_back("gpu_memory_mb", mb);
        }
        if (!emit(r)) cancel_.store(true);

        const bool at_end = step == last_step;
        if (eval_every > 0 && step % eval_every == 0 && !at_end) {
          in_evaluation = true;
          evaluate(false);
          in_evaluation = false;
        }
        if (step % tc.checkpoint_every_steps == 0 || at_end || cancel_.load()) checkpoint();
      }
    } catch (const c10::OutOfMemoryError& e) {
      // Out of memory: keep what was learned, find a batch size that fits, and say so.
      (void)e;
      source.stop();
      optimizer.zeroGrad();
      releaseCachedMemory(device);
      // The model is as it was after `step` steps unless the optimizer itself ran out
      // of memory half-way through its update: then the last checkpoint stands.
      std::string kept;
      if (!in_optimizer_step) {
        checkpoint();
        kept = "the run is checkpointed at step " + std::to_string(step);
      } else {
        kept = checkpointed_step >= 0 || folder_.hasCheckpoint()
                   ? "the optimizer ran out of memory mid-update, so the last checkpoint (step " +
                         std::to_string(checkpointed_step >= 0 ? checkpointed_step : readCheckpointInfo(folder_.checkpointPath()).step) +
                         ") is kept"
                   : "no checkpoint was written yet";
      }
      const std::string where = describeDevice(device);
      std::string message;
      BatchProbe probe;
      if (in_evaluation) {
        message = "out of memory on " + where + " during the kNN evaluation at step " + std::to_string(step) +
                  ": lower monitor.bank_size or monitor.query_size";
      } else {
        probe = probeFittingBatch(tc.batch_size, 2, [&](int64_t b) {
          return fitsInMemory(model, device, [&] {
            optimizer.zeroGrad();
            forwardBackward(source.probeViews(step, b), nullptr);
          });
        });
        optimizer.zeroGrad();
        releaseCachedMemory(device);
        message = "out of memory on " + where + " at step " + std::to_string(step) + " with train.batch_size = " +
                  std::to_string(tc.batch_size) + "; ";
        message += probe.fitting > 0 ? "a batch of " + std::to_string(probe.fitting) + " fits (probed by halving: " +
                                           probe.describe() + "): start again with --set train.batch_size=" +
                                           std::to_string(probe.fitting)
                                     : "not even a batch of 2 fits (" + probe.describe() +
                                           "): choose a smaller model or image size";
      }
      message += "; " + kept;
      MetricsRecord r;
      r.kind = "info";
      r.step = step;
      r.text = message;
      r.values = {{"fitting_batch_size", double(probe.fitting)}};
      emit(r);
      throwFailure(message);
    }

    if (step == last_step && !cancel_.load()) {
      evaluate(true);
      checkpoint();
      outcome.status = "finished";
    } else {
      if (checkpointed_step != step) checkpoint();
      outcome.status = "cancelled";
    }
    outcome.steps = step;
    outcome.best_knn = best_knn;
    outcome.seconds = secondsSince(t_start);
    MetricsRecord end;
    end.kind = "end";
    end.step = step;
    end.epoch = double(step) / steps_per_epoch;
    end.text = outcome.status;
    end.values = {{"best_knn_top1", best_knn}, {"final_knn_top1", outcome.final_knn},
                  {"raw_pixel_knn_top1", outcome.raw_pixel_knn}, {"seconds", outcome.seconds}};
    emit(end);
    publish(makeRecord(config_, folder_, outcome.status, best_knn, true, started_at), folder_);
    return outcome;
  } catch (...) {
    // Whatever ended the run (the engine's errors, LibTorch's, out of memory, anything
    // else): the run is marked failed with the reason, never left saying "running".
    std::string what = "unknown error";
    bool engine_error = false;
    try {
      throw;
    } catch (const Error& e) {
      what = e.what();
      engine_error = true;
    } catch (const c10::Error& e) {
      what = e.what_without_backtrace();
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    publish(makeRecord(config_, folder_, "failed", best_knn, true, started_at), folder_);
    MetricsRecord r;
    r.kind = "end";
    r.text = "failed: " + what;
    folder_.appendMetrics(r.toJson());
    if (engine_error) throw;
    throwFailure("training failed: " + what.substr(0, what.find('\n')));
  }
}

namespace {

// A finished or interrupted run's model as its checkpoint left it (or freshly initialised,
// for the random-encoder baseline), with the data and the augmenter that normalise its input.
struct RestoredRun {
  ExperimentConfig config;
  DatasetSplits data;
  std::unique_ptr<Augmenter> augmenter;
  ContrastiveModel model{nullptr};
  torch::Device device{torch::kCPU};
  int64_t step = 0;
};

RestoredRun restoreRun(const RunFolder& folder, const std::string& device_spec, const char* device_key,
                       bool random_init) {
  RestoredRun r;
  r.config = loadExperimentConfig(folder.configPath());
  if (!random_init && !folder.hasCheckpoint()) throwBadInput(folder.path() + ": the run has no checkpoint yet");
  r.device = resolveDevice(device_spec, device_key);
  setThreads(r.config.train.threads);
  r.data = loadDataset(r.config.dataset, r.config.train.seed);
  resolveNormalisation(r.config, r.data.train);
  r.augmenter = std::make_unique<Augmenter>(r.config.augment, r.data.train.channels(), r.data.train.height(),
                                            r.data.train.width());
  torch::manual_seed(static_cast<uint64_t>(r.config.train.seed));
  r.model = makeContrastiveModel(r.config.model, r.data.train.channels(), r.augmenter->outSize());
  if (!random_init) r.step = loadCheckpoint(folder.checkpointPath(), r.model, nullptr).step;
  r.model->to(r.device);
  return r;
}

}  // namespace

RunEmbeddings embedRun(const RunFolder& folder, int64_t bank_size, int64_t query_size, const std::string& device_spec,
                       bool random_init) {
  RestoredRun run = restoreRun(folder, device_spec, "--device", random_init);
  const KnnProbe probe = makeProbe(run.data, bank_size, query_size, run.config.train.seed);
  if (!probe.usable()) throwBadInput(folder.path() + ": the run's dataset has no labeled held-out split to evaluate on");
  RunEmbeddings e;
  e.step = run.step;
  e.bank_images = probe.bank_images;
  e.bank_labels = probe.bank_labels;
  e.query_images = probe.query_images;
  e.query_labels = probe.query_labels;
  e.class_names = run.data.train.class_names;
  e.bank_features = embedImages(run.model, *run.augmenter, probe.bank_images, run.device);
  e.query_features = embedImages(run.model, *run.augmenter, probe.query_images, run.device);
  return e;
}

EmbeddingSnapshot embedRunMap(const RunFolder& folder, int64_t map_size, const std::string& device_spec,
                              bool random_init) {
  RestoredRun run = restoreRun(folder, device_spec, "device", random_init);
  const Dataset map_set =
      makeMapSet(run.data, map_size > 0 ? map_size : run.config.monitor.map_size, run.config.train.seed);
  if (map_set.size() == 0) throwBadInput(folder.path() + ": monitor.map_size is 0, so the run has no map");
  const int64_t steps_per_epoch = std::max<int64_t>(1, run.data.train.size() / run.config.train.batch_size);
  return makeSnapshot(embedImages(run.model, *run.augmenter, map_set.images, run.device), toImageTable(map_set),
                      run.step, double(run.step) / steps_per_epoch);
}

EvalResult evaluateRun(const RunFolder& folder, int64_t k, int64_t bank_size, int64_t query_size, const std::string& device_spec) {
  const RunEmbeddings e = embedRun(folder, bank_size, query_size, device_spec);
  MonitorConfig m = loadExperimentConfig(folder.configPath()).monitor;
  m.k = k > 0 ? k : m.k;
  KnnOptions o;
  o.k = m.k;
  o.temperature = m.temperature;
  const auto classes = static_cast<int64_t>(e.class_names.size());
  EvalResult r;
  r.knn_top1 = knnAccuracy(e.bank_features, e.bank_labels, e.query_features, e.query_labels, classes, o);
  r.raw_pixel_knn_top1 = knnAccuracy(rawPixelFeatures(e.bank_images), e.bank_labels, rawPixelFeatures(e.query_images),
                                     e.query_labels, classes, o);
  r.bank_size = e.bank_images.size(0);
  r.query_size = e.query_images.size(0);
  r.k = m.k;
  r.step = e.step;
  return r;
}

}  // namespace studio
