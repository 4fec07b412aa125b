#pragma once
// Label-efficiency studies in one call: every arm (a representation with a classifier) is
// fitted on class-balanced subsets of the training labels (balancedSubset: 1%, 10%, 100%,
// several seeds) and scored on the same test set. An arm is a function from a labelled subset
// and a seed to a test report, so arms that train networks (from scratch, fine-tuning) slot in
// beside the frozen-feature classifiers made here.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <torch/types.h>

#include "core/eval/evaluation.h"
#include "core/eval/knn.h"
#include "core/eval/study_result.h"

namespace studio {

struct StudyArm {
  std::string representation;  // "pretrained", "random-init", "raw-pixels", "scratch", ...
  std::string classifier;      // "linear probe", "kNN", "fine-tune", ...
  // Fits on the labelled training rows `subset` (ascending int64 indices into the study's
  // training labels) and reports on the test set. seed: the subset's seed, for anything else
  // the arm draws at random.
  std::function<ClassificationReport(const torch::Tensor& subset, int64_t seed)> evaluate;
  // With all labels every seed draws the same subset: an arm whose result then depends on
  // nothing else (kNN, the linear probe up to its validation split) runs one seed there.
  bool seeds_at_full_labels = false;
  std::string name() const { return representation + " / " + classifier; }
};

struct LabelStudyOptions {
  std::vector<double> fractions = {0.01, 0.1, 1.0};  // each in (0, 1]
  int64_t seeds = 3;
  std::string title;
  std::vector<std::string> class_names;  // C names (or empty for "0".."C-1")
};

// Runs every arm at every fraction and seed; cells come out arm by arm, fractions ascending.
// train_labels: int64 [M] in [0, num_classes). Throws BadInput for bad fractions or seeds and
// Error(Cancelled) when progress returns false.
StudyResult runLabelStudy(const std::vector<StudyArm>& arms, const torch::Tensor& train_labels, int64_t test_images,
                          int64_t num_classes, const LabelStudyOptions& options, const StudyProgress& progress = {});

// Frozen-feature arms: the linear probe (core/eval/evaluation.h) and weighted cosine kNN
// (core/eval/knn.h; k is capped at the subset's size) on [M, D] training and [Q, D] test features.
StudyArm linearProbeArm(const std::string& representation, const torch::Tensor& train_x, const torch::Tensor& train_y,
                        const torch::Tensor& test_x, const torch::Tensor& test_y, int64_t num_classes,
                        const LinearProbeOptions& options = {});
StudyArm knnArm(const std::string& representation, const torch::Tensor& train_x, const torch::Tensor& train_y,
                const torch::Tensor& test_x, const torch::Tensor& test_y, int64_t num_classes,
                const KnnOptions& options = {});

}  // namespace studio
