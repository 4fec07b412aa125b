#include "core/eval/supervised.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "core/augment/augment.h"
#include "core/data/dataset.h"
#include "core/device/device.h"
#include "core/device/torch_state.h"
#include "core/base/error.h"
#include "core/eval/evaluation.h"
#include "core/base/file_io.h"
#include "core/model/models.h"
#include "core/model/optim.h"
#include "core/exchange/safetensors_torch.h"
#include "core/version.h"
#include "core/exchange/weight_import.h"

namespace F = torch::nn::functional;

namespace studio {
namespace {

// Encoder + linear head, named "backbone" and "fc": TrainingOptimizer gives "backbone.*" its
// learning-rate multiplier, and the export names the head as torchvision does.
class ClassifierImpl : public torch::nn::Module {
 public:
  ClassifierImpl(std::shared_ptr<BackboneImpl> backbone, int64_t num_classes)
      : backbone_(register_module("backbone", std::move(backbone))) {
    fc_ = register_module("fc", torch::nn::Linear(backbone_->featureDim(), num_classes));
  }
  torch::Tensor forward(const torch::Tensor& x) { return fc_->forward(backbone_->forward(x)); }
  BackboneImpl& backbone() { return *backbone_; }
  torch::nn::Linear& fc() { return fc_; }

 private:
  std::shared_ptr<BackboneImpl> backbone_;
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(Classifier);

// The light augmentation of fine-tuning: the run's normalisation and flip, a gentler crop,
// no colour changes (the labels may depend on colour).
AugmentConfig lightAugment(const AugmentConfig& run, bool augment) {
  AugmentConfig a = run;
  a.crop = augment;
  a.crop_scale_min = std::max(0.6, run.crop_scale_min);
  a.crop_scale_max = 1.0;
  a.flip_p = augment ? run.flip_p : 0.0;
  a.jitter_p = 0;
  a.grayscale_p = 0;
  a.blur_p = 0;
  a.solarize_p = 0;
  return a;
}

std::vector<torch::Tensor> snapshot(torch::nn::Module& m) {
  std::vector<torch::Tensor> out;
  for (const auto& p : m.parameters()) out.push_back(p.detach().clone());
  for (const auto& b : m.buffers()) out.push_back(b.detach().clone());
  return out;
}

void restore(torch::nn::Module& m, const std::vector<torch::Tensor>& saved) {
  torch::NoGradGuard no_grad;
  size_t i = 0;
  for (auto& p : m.parameters()) p.copy_(saved[i++]);
  for (auto& b : m.buffers()) b.copy_(saved[i++]);
}

enum class ClassifierOutput { Logits, Features };

// The classifier's logits, or its encoder's features (before the head), of images without
// augmentation, in eval mode, in batches of 256, on the CPU.
torch::Tensor outputsOf(Classifier& model, const Augmenter& aug, const torch::Tensor& images, const torch::Device& device,
                        ClassifierOutput output) {
  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < images.size(0); start += 256) {
    const auto batch = aug.prepare(images.slice(0, start, std::min(images.size(0), start + 256)).to(device));
    const auto out = output == ClassifierOutput::Logits ? model->forward(batch) : model->backbone().forward(batch);
    parts.push_back(out.to(torch::kCPU, torch::kFloat32));
  }
  model->train(was_training);
  return parts.empty() ? torch::empty({0}) : torch::cat(parts);
}

torch::Tensor logitsOf(Classifier& model, const Augmenter& aug, const torch::Tensor& images, const torch::Device& device) {
  return outputsOf(model, aug, images, device, ClassifierOutput::Logits);
}

torch::Tensor featuresOf(Classifier& model, const Augmenter& aug, const torch::Tensor& images, const torch::Device& device) {
  return outputsOf(model, aug, images, device, ClassifierOutput::Features);
}

double accuracyOf(const torch::Tensor& logits, const torch::Tensor& labels) {
  return (logits.argmax(1) == labels.to(logits.device())).to(torch::kDouble).mean().item<double>();
}

// The head as the linear probe of the frozen features; among a few weight decays the one
// best on the validation features (the strongest on ties), 1e-3 without validation images.
void initHeadFromProbe(Classifier& model, const Augmenter& aug, const torch::Tensor& train_images, const torch::Tensor& train_y,
                       const torch::Tensor& val_images, const torch::Tensor& val_y, int64_t num_classes,
                       const torch::Device& device) {
  const auto train_x = featuresOf(model, aug, train_images, device);
  const auto val_x = val_images.size(0) > 0 ? featuresOf(model, aug, val_images, device) : torch::Tensor();
  LinearClassifier best;
  double best_accuracy = -1;
  for (double wd : {1e-2, 1e-3, 1e-4}) {
    LinearClassifier c = fitLinearClassifier(train_x, train_y, num_classes, wd);
    if (!val_x.defined()) {
      if (wd == 1e-3) best = c;
      continue;
    }
    const double accuracy = accuracyOf(torch::addmm(c.bias, val_x, c.weight), val_y);
    if (accuracy > best_accuracy) {
      best_accuracy = accuracy;
      best = c;
    }
  }
  torch::NoGradGuard no_grad;
  model->fc()->weight.copy_(best.weight.t().to(device));
  model->fc()->bias.copy_(best.bias.to(device));
}

void checkImages(const torch::Tensor& images, const torch::Tensor& labels, const char* what) {
  if (!images.defined() || images.dim() != 4 || images.scalar_type() != torch::kUInt8)
    throwBadInput(std::string(what) + ": expected uint8 images [N, C, H, W]");
  if (!labels.defined() || labels.dim() != 1 || labels.size(0) != images.size(0))
    throwBadInput(std::string(what) + ": expected one label per image");
}

}  // namespace

torch::Tensor classBalancedDraw(const torch::Tensor& labels, int64_t num_classes, int64_t n, at::Generator& gen) {
  const auto y = labels.to(torch::kLong);
  const auto counts = torch::bincount(y, {}, num_classes).to(torch::kDouble);
  const auto weights = (1.0 / counts.clamp_min(1)).index_select(0, y);  // each class sums to 1
  return torch::multinomial(weights, n, /*replacement=*/true, gen);
}

struct SupervisedFinetuner::Model {
  Classifier classifier{nullptr};
  nlohmann::json architecture;
};

nlohmann::json FinetuneResult::toJson() const {
  return {{"init", init},
          {"label_fraction", label_fraction},
          {"seed", seed},
          {"test_top1", test_top1},
          {"per_class_accuracy", per_class_accuracy},
          {"expected_calibration_error", expected_calibration_error},
          {"best_validation_top1", best_validation_top1 < 0 ? nlohmann::json(nullptr) : nlohmann::json(best_validation_top1)},
          {"best_epoch", best_epoch},
          {"epochs_run", epochs_run},
          {"steps", steps},
          {"labeled_images", labeled_images},
          {"train_images", train_images},
          {"validation_images", validation_images},
          {"test_images", test_images},
          {"stopped_early", stopped_early},
          {"seconds", seconds}};
}

SupervisedFinetuner::SupervisedFinetuner(const RunFolder& run, const std::string& device)
    : run_(run), config_(loadExperimentConfig(run.configPath())), device_(device) {
  resolveDevice(device_, "--device");  // refuse a bad device before any work
}

SupervisedFinetuner::~SupervisedFinetuner() = default;

FinetuneResult SupervisedFinetuner::run(const torch::Tensor& pool_images, const torch::Tensor& pool_labels,
                                        const torch::Tensor& test_images, const torch::Tensor& test_labels,
                                        int64_t num_classes, const FinetuneOptions& o, const FinetuneCallback& on_epoch) {
  const auto t0 = std::chrono::steady_clock::now();
  checkImages(pool_images, pool_labels, "fine-tuning pool");
  checkImages(test_images, test_labels, "fine-tuning test set");
  if (num_classes < 2) throwBadInput("fine-tuning needs labels of at least 2 classes, got " + std::to_string(num_classes));
  if (!(o.label_fraction > 0 && o.label_fraction <= 1))
    throwBadInput("--labels: expected a share in (0%, 100%], got " + std::to_string(o.label_fraction));
  if (o.max_epochs < 1 || o.patience < 1 || o.batch_size < 2 || o.min_epoch_samples < 0)
    throwBadInput("fine-tuning: epochs and patience must be >= 1, the batch >= 2 and the samples per epoch >= 0");
  if (!(o.validation_fraction >= 0 && o.validation_fraction < 1))
    throwBadInput("fine-tuning: the validation share must lie in [0, 1), got " + std::to_string(o.validation_fraction));
  if (o.from_pretrained && !run_.hasCheckpoint())
    throwBadInput(run_.path() + ": the run has no checkpoint to fine-tune (train it first, or fine-tune from scratch)");
  if (test_images.size(0) == 0) throwBadInput(run_.path() + ": no test images to score the fine-tuned classifier on");
  const torch::Device device = resolveDevice(device_, "--device");
  ScopedTorchState torch_state;  // threads and seed for this fine-tuning, put back after it
  torch_state.setThreads(config_.train.threads);

  // Labelled subset, then a class-balanced validation split from it (classes with a single
  // labelled example keep it for training).
  const auto pool_y = pool_labels.to(torch::kLong);
  const auto subset = balancedSubset(pool_y, num_classes, o.label_fraction, o.seed);
  const auto subset_y = pool_y.index_select(0, subset);
  const auto counts = torch::bincount(subset_y, {}, num_classes);
  torch::Tensor val_local = torch::empty({0}, torch::kLong);
  if (o.validation_fraction > 0) {
    val_local = balancedSubset(subset_y, num_classes, o.validation_fraction, o.seed + 1);
    val_local = val_local.index_select(0, (counts.index_select(0, subset_y.index_select(0, val_local)) >= 2).nonzero().flatten());
  }
  auto is_val = torch::zeros({subset.size(0)}, torch::kBool);
  if (val_local.numel() > 0) is_val.index_fill_(0, val_local, true);
  const auto train_idx = subset.index_select(0, (~is_val).nonzero().flatten());
  const auto val_idx = subset.index_select(0, is_val.nonzero().flatten());
  const auto train_images = pool_images.index_select(0, train_idx);
  const auto train_y = pool_y.index_select(0, train_idx);
  const auto val_images = pool_images.index_select(0, val_idx);
  const auto val_y = pool_y.index_select(0, val_idx);
  const int64_t n = train_idx.size(0);
  if (n < 2) throwBadInput("fine-tuning: only " + std::to_string(n) + " labelled training image(s); give more labels");

  FinetuneResult result;
  result.init = o.from_pretrained ? "pretrained" : "scratch";
  result.label_fraction = o.label_fraction;
  result.seed = o.seed;
  result.labeled_images = subset.size(0);
  result.train_images = n;
  result.validation_images = val_idx.size(0);
  result.test_images = test_images.size(0);

  AugmentConfig aug_config = lightAugment(config_.augment, o.augment);
  const int64_t channels = pool_images.size(1);
  if (aug_config.mean.empty() || static_cast<int64_t>(aug_config.mean.size()) != channels)
    throwBadInput(run_.configPath() + ": augment.mean/std are not resolved for " + std::to_string(channels) +
                  "-channel images (the run never started?)");
  const Augmenter augmenter(aug_config, channels, pool_images.size(2), pool_images.size(3));

  torch_state.seed(config_.train.seed + 1000003 * (o.seed + 1));
  auto backbone = makeBackbone(config_.model, channels, augmenter.outSize());
  if (o.from_pretrained) loadEncoderWeights(*backbone, run_.checkpointPath(), /*strict=*/true);
  backbone->freezeStages(o.freeze_stages);
  auto model = std::make_unique<Model>();
  model->architecture = backbone->architecture();
  model->classifier = Classifier(backbone, num_classes);
  Classifier& net = model->classifier;
  net->to(device);

  const int64_t batch = std::min(o.batch_size, std::max<int64_t>(2, n));
  const int64_t epoch_samples = std::max(n, o.min_epoch_samples);
  const int64_t steps_per_epoch = std::max<int64_t>(1, (epoch_samples + batch - 1) / batch);
  OptimConfig oc;
  oc.name = OptimizerKind::AdamW;
  oc.lr = o.lr;
  oc.weight_decay = o.weight_decay;
  oc.warmup_epochs = 0;
  oc.backbone_lr_mult = o.backbone_lr_mult;
  TrainingOptimizer optimizer(oc, *net, steps_per_epoch, steps_per_epoch * o.max_epochs);
  const auto train_images_dev = train_images.to(device);
  const auto train_y_dev = train_y.to(device);

  if (o.from_pretrained && o.probe_init_head)
    initHeadFromProbe(net, augmenter, train_images, train_y, val_images, val_y, num_classes, device);
  // The starting point is the first candidate: epoch 0.
  std::vector<torch::Tensor> best = snapshot(*net);
  double best_val = -1;
  if (val_idx.size(0) > 0) best_val = accuracyOf(logitsOf(net, augmenter, val_images, device), val_y);
  int64_t since_best = 0, step = 0;
  net->train();
  for (int64_t epoch = 1; epoch <= o.max_epochs; ++epoch) {
    auto gen = makeStepGenerator(o.seed, epoch, /*stream=*/11);
    double loss_sum = 0;
    for (int64_t s = 0; s < steps_per_epoch; ++s, ++step) {
      const auto idx = classBalancedDraw(train_y, num_classes, batch, gen).to(device);
      const auto params = augmenter.sample(batch, gen);
      const auto x = augmenter.apply(train_images_dev.index_select(0, idx), params);
      optimizer.zeroGrad();
      const auto loss = F::cross_entropy(net->forward(x), train_y_dev.index_select(0, idx));
      loss.backward();
      optimizer.step(step);
      loss_sum += loss.item<double>();
    }
    FinetuneProgress p;
    p.epoch = epoch;
    p.max_epochs = o.max_epochs;
    p.steps = step;
    p.train_loss = loss_sum / static_cast<double>(steps_per_epoch);
    if (!std::isfinite(p.train_loss))
      throwFailure("fine-tuning diverged (loss " + std::to_string(p.train_loss) + "): lower the learning rate");
    result.epochs_run = epoch;
    if (val_idx.size(0) > 0) {
      p.validation_top1 = accuracyOf(logitsOf(net, augmenter, val_images, device), val_y);
      if (p.validation_top1 > best_val) {
        best_val = p.validation_top1;
        result.best_epoch = epoch;
        best = snapshot(*net);
        since_best = 0;
      } else {
        ++since_best;
      }
    } else {
      result.best_epoch = epoch;  // no split to choose on: the last epoch is kept
      best = snapshot(*net);
    }
    p.best_validation_top1 = best_val;
    if (on_epoch && !on_epoch(p)) throw Error(ErrorKind::Cancelled, "fine-tuning stopped");
    if (val_idx.size(0) > 0 && since_best >= o.patience && epoch < o.max_epochs) {
      result.stopped_early = true;
      break;
    }
  }
  result.steps = step;
  restore(*net, best);
  result.best_validation_top1 = best_val;

  const auto logits = logitsOf(net, augmenter, test_images, device);
  const auto probabilities = torch::softmax(logits, 1);
  const auto report = classificationReport(probabilities.argmax(1), test_labels.to(torch::kLong), num_classes, probabilities);
  result.test_top1 = report.top1;
  result.per_class_accuracy = report.per_class_accuracy;
  result.expected_calibration_error = report.expected_calibration_error;
  const auto confusion = report.confusion.to(torch::kCPU, torch::kLong).contiguous();
  result.confusion.assign(confusion.data_ptr<int64_t>(), confusion.data_ptr<int64_t>() + confusion.numel());
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  net->to(torch::kCPU);
  model->architecture["num_classes"] = num_classes;
  last_ = std::move(model);
  return result;
}

void SupervisedFinetuner::saveClassifier(const std::string& path, const std::vector<std::string>& class_names) const {
  if (!last_) throwBadInput("no fine-tuned classifier to save yet");
  auto& net = last_->classifier;
  NamedTensors tensors = exchangeTensors(net->backbone());
  tensors.emplace_back("fc.weight", net->fc()->weight);
  tensors.emplace_back("fc.bias", net->fc()->bias);
  nlohmann::json arch = last_->architecture;
  arch["class_names"] = class_names;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  writeSafetensorsTensors(path, tensors,
                          {{"format", "pt"},
                           {"studio_version", STUDIO_VERSION},
                           {"studio_run", run_.id()},
                           {"studio_architecture", arch.dump()}});
}

double SupervisedStudyRow::mean() const {
  double m = 0;
  for (double x : test_top1) m += x / static_cast<double>(test_top1.size());
  return m;
}

double SupervisedStudyRow::stddev() const {
  if (test_top1.size() < 2) return 0;
  const double m = mean();
  double v = 0;
  for (double x : test_top1) v += (x - m) * (x - m) / static_cast<double>(test_top1.size() - 1);
  return std::sqrt(v);
}

std::vector<SupervisedStudyRow> supervisedStudy(SupervisedFinetuner& tuner, const torch::Tensor& pool_images,
                                                const torch::Tensor& pool_labels, const torch::Tensor& test_images,
                                                const torch::Tensor& test_labels, int64_t num_classes,
                                                const std::vector<std::string>& arms,
                                                const std::vector<double>& fractions, int64_t seeds,
                                                const FinetuneOptions& base, const std::function<bool()>& keep_going) {
  std::vector<SupervisedStudyRow> rows;
  for (const auto& arm : arms) {
    if (arm != "scratch" && arm != "finetuned")
      throwBadInput("supervised arm \"" + arm + "\": expected scratch or finetuned");
    for (double f : fractions) {
      SupervisedStudyRow row;
      row.arm = arm;
      row.label_fraction = f;
      for (int64_t seed = 0; seed < seeds; ++seed) {
        FinetuneOptions o = base;
        o.label_fraction = f;
        o.seed = seed;
        o.from_pretrained = arm == "finetuned";
        const auto r = tuner.run(pool_images, pool_labels, test_images, test_labels, num_classes, o,
                                 [&](const FinetuneProgress&) { return !keep_going || keep_going(); });
        row.test_top1.push_back(r.test_top1);
        row.labeled_images = r.labeled_images;
        if (f >= 1.0) break;
      }
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

FinetuneResult finetuneRun(const RunFolder& run, const FinetuneOptions& options, const std::string& device,
                           int64_t test_size, const FinetuneCallback& on_epoch) {
  SupervisedFinetuner tuner(run, device);
  const ExperimentConfig& c = tuner.config();
  const DatasetSplits data = loadDataset(c.dataset, c.train.seed);
  if (!data.train.labeled()) throwBadInput(run.path() + ": the run's dataset has no labels to fine-tune on");
  if (data.eval.size() == 0 || !data.eval.labeled())
    throwBadInput(run.path() + ": the run's dataset has no labelled held-out split to score the classifier on");
  const int64_t nq = test_size > 0 ? std::min(test_size, data.eval.size()) : data.eval.size();
  const FinetuneResult result = tuner.run(data.train.images, data.train.labels, data.eval.images.slice(0, 0, nq),
                                          data.eval.labels.slice(0, 0, nq), data.train.numClasses(), options, on_epoch);
  tuner.saveClassifier(run.classifierPath(), data.train.class_names);
  nlohmann::json report = result.toJson();
  report["run"] = run.id();
  report["class_names"] = data.train.class_names;
  report["options"] = {{"max_epochs", options.max_epochs},   {"patience", options.patience},
                       {"batch_size", options.batch_size},   {"min_epoch_samples", options.min_epoch_samples},
                       {"lr", options.lr},
                       {"backbone_lr_mult", options.backbone_lr_mult}, {"weight_decay", options.weight_decay},
                       {"freeze_stages", options.freeze_stages}, {"validation_fraction", options.validation_fraction},
                       {"augment", options.augment},         {"probe_init_head", options.probe_init_head},
                       {"device", device}};
  report["classifier"] = run.classifierPath();
  writeFileAtomically(run.finetuneReportPath(), report.dump(2) + "\n");
  return result;
}

}  // namespace studio
