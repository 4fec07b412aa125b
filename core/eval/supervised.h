#pragma once
// Supervised fine-tuning when labels exist: a run's encoder (or the same architecture from
// random initialisation, "scratch") plus a linear classification head, trained with
// cross-entropy on a chosen share of the labels (class-balanced subset), class-balanced
// sampling, light augmentation (random resized crop and flip through the run's Augmenter),
// and early stopping on a class-balanced validation split; the best validation epoch's
// weights are kept and scored on the test images. CPU or GPU.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Generator.h>
#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "core/experiment/config.h"
#include "core/experiment/finetune_options.h"
#include "core/runs/run_folder.h"

namespace studio {

// Called after every epoch; return false to stop (fine-tuning then throws Error(Cancelled)).
struct FinetuneProgress {
  int64_t epoch = 0, max_epochs = 0, steps = 0;
  double train_loss = 0;
  double validation_top1 = -1, best_validation_top1 = -1;  // -1 without a validation split
};
using FinetuneCallback = std::function<bool(const FinetuneProgress&)>;

struct FinetuneResult {
  std::string init;  // pretrained | scratch
  double label_fraction = 0;
  int64_t seed = 0;
  double test_top1 = 0;
  std::vector<double> per_class_accuracy;  // -1 for classes absent from the test images
  std::vector<int64_t> confusion;          // C x C row-major: rows = true class, columns = predicted
  double expected_calibration_error = -1;
  double best_validation_top1 = -1;
  int64_t best_epoch = 0, epochs_run = 0, steps = 0;  // best_epoch 0: the starting point was best
  int64_t labeled_images = 0, train_images = 0, validation_images = 0, test_images = 0;
  bool stopped_early = false;
  double seconds = 0;
  nlohmann::json toJson() const;
};

// One run's architecture, normalisation and (for the pretrained arm) checkpoint, fine-tuned
// as often as asked on images the caller chooses. Not thread-safe.
class SupervisedFinetuner {
 public:
  // Reads the run's config; BadInput naming the folder when it has no checkpoint (needed
  // unless every call is "scratch", so it is checked in run()).
  SupervisedFinetuner(const RunFolder& run, const std::string& device);
  ~SupervisedFinetuner();

  // pool_images: uint8 NCHW with int64 labels in [0, num_classes): the labelled images the
  // subset is drawn from; test_*: what the result is scored on.
  FinetuneResult run(const torch::Tensor& pool_images, const torch::Tensor& pool_labels, const torch::Tensor& test_images,
                     const torch::Tensor& test_labels, int64_t num_classes, const FinetuneOptions& options,
                     const FinetuneCallback& on_epoch = {});

  // The classifier of the last run() as safetensors: the encoder under its exchange names
  // (torchvision's for ResNets) and the head as fc.weight / fc.bias, so that
  // torchvision.models.resnet18(num_classes=C) loads it whole.
  void saveClassifier(const std::string& path, const std::vector<std::string>& class_names) const;

  const ExperimentConfig& config() const { return config_; }

 private:
  struct Model;
  RunFolder run_;
  ExperimentConfig config_;
  std::string device_;
  std::unique_ptr<Model> last_;
};

// One row of the supervised arms of a label-efficiency study.
struct SupervisedStudyRow {
  std::string arm;  // scratch | finetuned
  double label_fraction = 0;
  int64_t labeled_images = 0;
  std::vector<double> test_top1;  // one per seed
  double mean() const;
  double stddev() const;          // sample standard deviation, 0 for one seed
};

// The study's supervised arms ("scratch": the architecture from random weights,
// "finetuned": the run's encoder): for each arm and label fraction, one fine-tune per seed
// (a single one at 100%, where every seed draws the same subset) on the pool, scored on the
// test images. The subsets are balancedSubset(pool_labels, ..., fraction, seed): the same
// labelled images a linear probe of the same study uses. keep_going is polled every epoch.
std::vector<SupervisedStudyRow> supervisedStudy(SupervisedFinetuner& tuner, const torch::Tensor& pool_images,
                                                const torch::Tensor& pool_labels, const torch::Tensor& test_images,
                                                const torch::Tensor& test_labels, int64_t num_classes,
                                                const std::vector<std::string>& arms,
                                                const std::vector<double>& fractions, int64_t seeds,
                                                const FinetuneOptions& base,
                                                const std::function<bool()>& keep_going = {});

// Class-balanced sampling: n indices into labels (int64 [N], classes in [0, num_classes)),
// drawn with replacement so that every class present is drawn equally often on average,
// whatever its share of the labels. Seeded by gen.
torch::Tensor classBalancedDraw(const torch::Tensor& labels, int64_t num_classes, int64_t n, at::Generator& gen);

// The finetune command: the run's whole labelled training split as the pool, its held-out
// split (the first test_size images, 0 = all) as the test set; writes the classifier and
// finetune.json into <run>/finetune/. Returns the result.
FinetuneResult finetuneRun(const RunFolder& run, const FinetuneOptions& options, const std::string& device,
                           int64_t test_size, const FinetuneCallback& on_epoch = {});

}  // namespace studio
