#pragma once
// Evaluation on frozen embeddings: classification reports (accuracy, confusion, calibration),
// the linear probe, class-balanced subsets for label-efficiency studies, nearest-neighbour
// queries, and near-duplicate / train-test leak detection. Features are float tensors [N, D]
// on the CPU, labels int64 [N]. kNN classification itself lives in core/eval/knn.h; its
// predictions go through classificationReport like any other.
#include <cstdint>
#include <vector>

#include <torch/types.h>

namespace studio {

// What a classifier got right and wrong on a labelled test set.
struct ClassificationReport {
  double top1 = 0;
  std::vector<double> per_class_accuracy;  // classes absent from the test set get -1 (never NaN)
  torch::Tensor confusion;                 // int64 [C, C]: rows = true class, columns = predicted
  double expected_calibration_error = -1;  // 15 equal-width confidence bins; -1 without probabilities (kNN)
};

// predictions and labels: integer [N] in [0, num_classes). probabilities, when given, are
// [N, num_classes] and add the expected calibration error.
ClassificationReport classificationReport(const torch::Tensor& predictions, const torch::Tensor& labels,
                                          int64_t num_classes, const torch::Tensor& probabilities = {});

// Guo et al. 2017: confidence = the top probability, bins (i/B, (i+1)/B], and
// ECE = sum over bins of (bin size / N) * |accuracy in bin - mean confidence in bin|.
double expectedCalibrationError(const torch::Tensor& probabilities, const torch::Tensor& labels, int64_t bins = 15);

// How the linear probe is fitted.
struct LinearProbeOptions {
  std::vector<double> weight_decays = {0.0, 1e-5, 1e-4, 1e-3, 1e-2};  // L2 on the weights, chosen on validation
  double validation_fraction = 0.2;  // of the training features, class-balanced
  int64_t max_iterations = 200;      // full-batch L-BFGS iterations (strong Wolfe line search) per fit
  int64_t seed = 0;                  // draws the validation split
};

// The probe's test report and how it was chosen.
struct LinearProbeResult {
  ClassificationReport report;        // on the test features, with ECE from the softmax probabilities
  double chosen_weight_decay = 0;
  double validation_top1 = -1;        // of the chosen decay; -1 when no split could be held out
  torch::Tensor test_probabilities;   // float32 [M, num_classes], rows sum to 1
};

// Multinomial logistic regression on frozen features, standardised with the training
// mean/std. Loss = cross-entropy + weight_decay / 2 * |W|^2 (the bias is not decayed),
// minimised full-batch with torch::optim::LBFGS. Each candidate decay is fitted on the
// training features minus a class-balanced validation split; the best validation top-1
// wins (ties go to the stronger decay), is refitted on all training features, and is
// reported on the test features. With a single candidate and too few examples per class
// to hold any out, the split is skipped.
LinearProbeResult linearProbe(const torch::Tensor& train_x, const torch::Tensor& train_y, const torch::Tensor& test_x,
                              const torch::Tensor& test_y, int64_t num_classes, const LinearProbeOptions& options);

// A linear classifier in the raw feature space: logits = x @ weight + bias.
struct LinearClassifier {
  torch::Tensor weight;  // float32 [D, C]
  torch::Tensor bias;    // float32 [C]
};

// The linear probe's fit (multinomial logistic regression, L2 weight_decay on the weights,
// full-batch L-BFGS) on x standardised with its own mean/std, folded back into the raw
// feature space: what initialises a fine-tuned model's head from its frozen features.
LinearClassifier fitLinearClassifier(const torch::Tensor& x, const torch::Tensor& y, int64_t num_classes,
                                     double weight_decay, int64_t max_iterations = 200);

// Class-balanced subset for label-efficiency studies (1%, 10%, 100%): round(fraction * n_c)
// of each class's indices, at least one per non-empty class, drawn with the seed. Returns
// int64 indices into labels, ascending. The same seed gives the same subset on every platform.
torch::Tensor balancedSubset(const torch::Tensor& labels, int64_t num_classes, double fraction, int64_t seed);

// The k rows of a bank most similar to one query.
struct Neighbours {
  std::vector<int64_t> indices;     // most similar first
  std::vector<float> similarities;  // cosine, descending
};

// bank [M, D] L2-normalised; query [D] or [1, D]. One matrix-vector product and a top-k, so
// it answers interactively over a whole dataset. exclude_index (the query's own row) is left
// out when >= 0. k larger than the rows available returns them all.
Neighbours nearestNeighbours(const torch::Tensor& bank, const torch::Tensor& query, int64_t k,
                             int64_t exclude_index = -1);

// One near-duplicate pair: row a and row b (for leaks, a indexes train and b test).
struct DuplicatePair {
  int64_t a = 0;
  int64_t b = 0;
  float similarity = 0;
};

// Pairs at or above the threshold, most similar first, at most max_pairs of them.
struct DuplicateReport {
  std::vector<DuplicatePair> pairs;
  int64_t total_pairs = 0;      // all pairs found, even when pairs was capped
  int64_t images_involved = 0;  // distinct rows in any pair (for leaks, train and test rows both count)
  double threshold = 0;
};

// Rows per similarity block: the pair search holds kDuplicateBlockRows^2 floats at a time.
constexpr int64_t kDuplicateBlockRows = 1024;

// All pairs i < j of x whose cosine similarity >= threshold (rows are normalised here).
// threshold in (0, 1]; max_pairs >= 0 (0 counts without listing).
DuplicateReport findDuplicates(const torch::Tensor& x, double threshold, int64_t max_pairs = 10000);
// All pairs (i in train, j in test) whose cosine similarity >= threshold.
DuplicateReport findLeaks(const torch::Tensor& train, const torch::Tensor& test, double threshold,
                          int64_t max_pairs = 10000);

}  // namespace studio
