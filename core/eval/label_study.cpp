#include "core/eval/label_study.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "core/base/error.h"

namespace studio {

namespace {

namespace F = torch::nn::functional;

StudyCell cellFrom(const StudyArm& arm, double fraction) {
  StudyCell cell;
  cell.arm = arm.name();
  cell.representation = arm.representation;
  cell.classifier = arm.classifier;
  cell.label_fraction = fraction;
  return cell;
}

}  // namespace

StudyResult runLabelStudy(const std::vector<StudyArm>& arms, const torch::Tensor& train_labels, int64_t test_images,
                          int64_t num_classes, const LabelStudyOptions& options, const StudyProgress& progress) {
  if (arms.empty()) throwBadInput("label study: no arms to run");
  if (options.fractions.empty()) throwBadInput("label study: no label fractions");
  for (const double f : options.fractions)
    if (!(f > 0 && f <= 1)) throwBadInput("label study: label fraction " + std::to_string(f) + " is outside (0, 1]");
  if (options.seeds < 1) throwBadInput("label study: seeds must be >= 1, got " + std::to_string(options.seeds));
  if (!options.class_names.empty() && static_cast<int64_t>(options.class_names.size()) != num_classes)
    throwBadInput("label study: " + std::to_string(options.class_names.size()) + " class names for " +
                  std::to_string(num_classes) + " classes");
  for (const auto& arm : arms)
    if (!arm.evaluate) throwBadInput("label study: arm " + arm.name() + " has no evaluate function");
  auto fractions = options.fractions;
  std::sort(fractions.begin(), fractions.end());
  fractions.erase(std::unique(fractions.begin(), fractions.end()), fractions.end());

  StudyResult result;
  result.title = options.title;
  result.class_names = options.class_names;
  if (result.class_names.empty())
    for (int64_t c = 0; c < num_classes; ++c) result.class_names.push_back(std::to_string(c));
  result.train_images = train_labels.size(0);
  result.test_images = test_images;
  result.seeds = options.seeds;

  const auto seedsFor = [&](const StudyArm& arm, double f) { return f >= 1.0 && !arm.seeds_at_full_labels ? 1 : options.seeds; };
  int64_t total = 0, done = 0;
  for (const auto& arm : arms)
    for (const double f : fractions) total += seedsFor(arm, f);
  for (const auto& arm : arms) {
    for (const double f : fractions) {
      StudyCell cell = cellFrom(arm, f);
      for (int64_t seed = 0; seed < seedsFor(arm, f); ++seed) {
        if (progress && !progress(done, total, cell.arm + ", " + std::to_string(f * 100) + "% labels, seed " + std::to_string(seed)))
          throw Error(ErrorKind::Cancelled, "label study cancelled");
        const auto subset = balancedSubset(train_labels, num_classes, f, seed);
        const ClassificationReport report = arm.evaluate(subset, seed);
        cell.top1.push_back(report.top1);
        if (seed == 0) {
          cell.labeled_images = subset.size(0);
          cell.per_class_accuracy = report.per_class_accuracy;
          const auto confusion = report.confusion.to(torch::kCPU, torch::kLong).contiguous();
          cell.confusion.assign(confusion.data_ptr<int64_t>(), confusion.data_ptr<int64_t>() + confusion.numel());
          cell.expected_calibration_error = report.expected_calibration_error;
        }
        ++done;
      }
      meanAndSpread(cell.top1, cell.mean, cell.std);
      result.cells.push_back(std::move(cell));
    }
  }
  if (progress) progress(done, total, "done");
  return result;
}

StudyArm linearProbeArm(const std::string& representation, const torch::Tensor& train_x, const torch::Tensor& train_y,
                        const torch::Tensor& test_x, const torch::Tensor& test_y, int64_t num_classes,
                        const LinearProbeOptions& options) {
  StudyArm arm;
  arm.representation = representation;
  arm.classifier = "linear probe";
  arm.evaluate = [=](const torch::Tensor& subset, int64_t seed) {
    LinearProbeOptions o = options;
    o.seed = seed;
    // Too few labels for a validation split (one per class): fit the middle candidate.
    const auto y = train_y.index_select(0, subset);
    const auto counts = torch::bincount(y, {}, num_classes);
    if (counts.max().item<int64_t>() < 2 && o.weight_decays.size() > 1)
      o.weight_decays = {o.weight_decays[o.weight_decays.size() / 2]};
    return linearProbe(train_x.index_select(0, subset), y, test_x, test_y, num_classes, o).report;
  };
  return arm;
}

StudyArm knnArm(const std::string& representation, const torch::Tensor& train_x, const torch::Tensor& train_y,
                const torch::Tensor& test_x, const torch::Tensor& test_y, int64_t num_classes, const KnnOptions& options) {
  StudyArm arm;
  arm.representation = representation;
  arm.classifier = "kNN";
  // kNN expects unit rows (cosine similarity): raw pixels and other features are normalised here.
  const auto bank = F::normalize(train_x.to(torch::kFloat32), F::NormalizeFuncOptions().dim(1));
  const auto queries = F::normalize(test_x.to(torch::kFloat32), F::NormalizeFuncOptions().dim(1));
  arm.evaluate = [=](const torch::Tensor& subset, int64_t) {
    KnnOptions o = options;
    o.k = std::min<int64_t>(o.k, subset.size(0));
    const auto predictions = knnPredict(bank.index_select(0, subset), train_y.index_select(0, subset), queries,
                                        num_classes, o);
    return classificationReport(predictions, test_y, num_classes);
  };
  return arm;
}

}  // namespace studio
