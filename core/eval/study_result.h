#pragma once
// The results of a label-efficiency study, torch-free so that the studio can show them: one
// cell per arm (a representation with a classifier) and label fraction, with the accuracy of
// every seed, their mean and spread, and the first seed's per-class accuracy, confusion
// matrix and calibration. Arms are data: a study with more arms (trained from scratch,
// fine-tuned, ...) is more cells, and every writer and view below handles any number of them.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace studio {

struct StudyCell {
  std::string arm;             // "pretrained / linear probe": unique within a study, names a series
  std::string representation;  // "pretrained", "random-init", "raw-pixels", ...
  std::string classifier;      // "linear probe", "kNN", ...
  double label_fraction = 0;   // of the training labels, in (0, 1]
  int64_t labeled_images = 0;  // training images with labels at this fraction (first seed)
  std::vector<double> top1;    // one accuracy per seed, in [0, 1]
  double mean = 0;             // of top1
  double std = 0;              // sample standard deviation of top1 (0 with one seed)
  // The first seed's test report.
  std::vector<double> per_class_accuracy;  // -1 for classes absent from the test set
  std::vector<int64_t> confusion;          // C x C row-major: rows = true class, columns = predicted
  double expected_calibration_error = -1;  // -1 when the classifier gives no probabilities
};

struct StudyResult {
  std::string title;                     // e.g. the run id
  std::vector<std::string> class_names;  // C names
  int64_t train_images = 0, test_images = 0;
  int64_t seeds = 0;
  std::vector<StudyCell> cells;          // arms in the order they were run, fractions ascending
};

// Progress of a study: `done` of `total` fits finished, `what` names the current one.
// Returning false cancels the study (it throws Error of kind Cancelled).
using StudyProgress = std::function<bool(int64_t done, int64_t total, const std::string& what)>;

// The arms of a study in first-seen order.
std::vector<std::string> studyArms(const StudyResult& result);

// mean and sample standard deviation (n - 1) of the values; 0 spread for fewer than two.
void meanAndSpread(const std::vector<double>& values, double& mean, double& std);

// The study as JSON text (every field above) and back; studyFromJson throws BadInput naming
// what is missing or malformed.
std::string studyToJson(const StudyResult& result);
StudyResult studyFromJson(const std::string& text);

// One row per cell: arm, representation, classifier, label_fraction, labeled_images, seeds,
// top1_mean, top1_std, ece, then top1_seed0..top1_seedS-1.
void writeStudyCsv(const std::string& path, const StudyResult& result);

// Accuracy against the number of labelled images (log scale), one series per arm with the
// seeds' spread as error bars, as an SVG document (width x height pixels).
std::string studySvg(const StudyResult& result, int width = 720, int height = 440);

// The table printed by the CLI: one line per cell, "mean +- std" in percent.
std::string studyTable(const StudyResult& result);

}  // namespace studio
