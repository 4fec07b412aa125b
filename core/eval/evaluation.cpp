#include "core/eval/evaluation.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>

#include "core/base/error.h"

namespace F = torch::nn::functional;

namespace studio {
namespace {

// Float32 dot products of unit vectors land a few ulps either side of the true cosine, so
// exact copies can score 0.999999; the slack keeps them at threshold 1.
constexpr float kSimilaritySlack = 1e-5f;

// A constant feature column has std 0: the floor turns 0/0 into 0 instead of NaN.
constexpr double kMinFeatureStd = 1e-6;

std::string num(double value) {
  std::ostringstream out;
  out.imbue(std::locale::classic());
  out << value;
  return out.str();
}

std::string shapeText(const torch::Tensor& t) {
  if (!t.defined()) return "none";
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

std::string dtypeText(const torch::Tensor& t) { return c10::toString(t.scalar_type()); }

// A floating-point matrix as contiguous float32 on the CPU. `layout` names the expected
// shape in the message ("[N, D]").
torch::Tensor floatMatrix(const torch::Tensor& x, const std::string& name, const std::string& layout,
                          bool check_finite = true) {
  if (!x.defined() || x.dim() != 2)
    throwBadInput(name + ": expected a floating-point tensor " + layout + ", got shape " + shapeText(x));
  if (!x.is_floating_point())
    throwBadInput(name + ": expected a floating-point tensor " + layout + ", got dtype " + dtypeText(x));
  auto out = x.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  if (check_finite && out.numel() > 0 && !torch::isfinite(out).all().item<bool>())
    throwBadInput(name + ": contains NaN or infinite values");
  return out;
}

// Integer labels [n] in [0, num_classes) as contiguous int64 on the CPU. n < 0 accepts any
// length; otherwise a mismatch names `rows_of`, the tensor the labels must match.
torch::Tensor labelVector(const torch::Tensor& y, const std::string& name, int64_t num_classes, int64_t n = -1,
                          const std::string& rows_of = "") {
  if (!y.defined() || y.dim() != 1) throwBadInput(name + ": expected integer labels [N], got shape " + shapeText(y));
  if (y.is_floating_point() || y.is_complex() || y.scalar_type() == torch::kBool)
    throwBadInput(name + ": expected integer labels, got dtype " + dtypeText(y));
  if (n >= 0 && y.size(0) != n)
    throwBadInput(name + ": expected " + std::to_string(n) + " labels (one per row of " + rows_of + "), got " +
                  std::to_string(y.size(0)));
  auto out = y.detach().to(torch::kCPU, torch::kLong).contiguous();
  if (out.numel() > 0) {
    const int64_t lo = out.min().item<int64_t>(), hi = out.max().item<int64_t>();
    if (lo < 0 || hi >= num_classes)
      throwBadInput(name + ": labels must lie in [0, " + std::to_string(num_classes) + "), found " +
                    std::to_string(lo < 0 ? lo : hi));
  }
  return out;
}

void checkNumClasses(int64_t num_classes, int64_t at_least = 1) {
  if (num_classes < at_least)
    throwBadInput("num_classes: expected >= " + std::to_string(at_least) + ", got " + std::to_string(num_classes));
}

torch::Tensor indexTensor(const std::vector<int64_t>& indices) {
  auto out = torch::empty({static_cast<int64_t>(indices.size())}, torch::kLong);
  if (!indices.empty()) std::memcpy(out.data_ptr<int64_t>(), indices.data(), indices.size() * sizeof(int64_t));
  return out;
}

// Each class's indices in a seeded random order. mt19937_64 with a hand-written
// Fisher-Yates rather than std::shuffle or uniform_int_distribution, whose outputs differ
// between standard libraries: a seed must pick the same subset on every platform. The
// modulo bias is below 2^-40 for any class smaller than 2^24 members.
std::vector<std::vector<int64_t>> shuffledByClass(const torch::Tensor& y, int64_t num_classes, int64_t seed) {
  std::vector<std::vector<int64_t>> by_class(static_cast<size_t>(num_classes));
  const int64_t* labels = y.data_ptr<int64_t>();
  for (int64_t i = 0; i < y.size(0); ++i) by_class[static_cast<size_t>(labels[i])].push_back(i);
  std::mt19937_64 rng(static_cast<uint64_t>(seed));
  for (auto& members : by_class)
    for (size_t i = members.size(); i > 1; --i) std::swap(members[i - 1], members[rng() % i]);
  return by_class;
}

struct LinearModel {
  torch::Tensor weight;  // [D, C]
  torch::Tensor bias;    // [C]
};

// Full-batch L-BFGS: the problem is convex and small (D x C parameters), so a quasi-Newton
// method converges in far fewer passes than SGD and needs no learning-rate schedule.
LinearModel fitLogistic(const torch::Tensor& x, const torch::Tensor& y, int64_t num_classes, double weight_decay,
                        int64_t max_iterations) {
  torch::AutoGradMode grad_on(true);  // callers may hold a NoGradGuard
  auto weight = torch::zeros({x.size(1), num_classes}, torch::TensorOptions().dtype(torch::kFloat32).requires_grad(true));
  auto bias = torch::zeros({num_classes}, torch::TensorOptions().dtype(torch::kFloat32).requires_grad(true));
  torch::optim::LBFGS optimizer({weight, bias}, torch::optim::LBFGSOptions(1.0)
                                                    .max_iter(max_iterations)
                                                    .history_size(20)
                                                    .line_search_fn("strong_wolfe"));
  auto closure = [&]() -> torch::Tensor {
    optimizer.zero_grad();
    auto loss = F::cross_entropy(torch::addmm(bias, x, weight), y);
    if (weight_decay > 0) loss = loss + 0.5 * weight_decay * weight.pow(2).sum();
    loss.backward();
    return loss;
  };
  optimizer.step(closure);
  return {weight.detach(), bias.detach()};
}

torch::Tensor logitsOf(const LinearModel& model, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  return torch::addmm(model.bias, x, model.weight);
}

bool pairBefore(const DuplicatePair& l, const DuplicatePair& r) {
  if (l.similarity != r.similarity) return l.similarity > r.similarity;
  if (l.a != r.a) return l.a < r.a;
  return l.b < r.b;
}

void keepBest(std::vector<DuplicatePair>& pairs, int64_t max_pairs) {
  const auto keep = static_cast<size_t>(max_pairs);
  if (pairs.size() <= keep) return;
  std::nth_element(pairs.begin(), pairs.begin() + static_cast<std::ptrdiff_t>(keep), pairs.end(), pairBefore);
  pairs.resize(keep);
}

void checkPairSearch(double threshold, int64_t max_pairs) {
  if (!(threshold > 0 && threshold <= 1))
    throwBadInput("threshold: expected a cosine similarity in (0, 1], got " + num(threshold));
  if (max_pairs < 0) throwBadInput("max_pairs: expected >= 0, got " + std::to_string(max_pairs));
}

// Pairs (i in a, j in b) with similarity >= threshold, one block of rows against one block
// at a time. With same_set, a and b are one matrix and only i < j counts. Between blocks the
// list is trimmed to the best max_pairs, so memory is bounded by max_pairs plus one block.
DuplicateReport searchPairs(const torch::Tensor& a, const torch::Tensor& b, bool same_set, double threshold,
                            int64_t max_pairs) {
  torch::NoGradGuard no_grad;
  DuplicateReport report;
  report.threshold = threshold;
  std::vector<char> involved_a(static_cast<size_t>(a.size(0)), 0);
  std::vector<char> involved_b(static_cast<size_t>(same_set ? 0 : b.size(0)), 0);
  std::vector<char>& marks_b = same_set ? involved_a : involved_b;
  std::vector<DuplicatePair> kept;
  const float cut = static_cast<float>(threshold) - kSimilaritySlack;
  const size_t trim_at = static_cast<size_t>(2 * max_pairs);

  for (int64_t i0 = 0; i0 < a.size(0); i0 += kDuplicateBlockRows) {
    const auto block_a = a.slice(0, i0, std::min(a.size(0), i0 + kDuplicateBlockRows));
    for (int64_t j0 = same_set ? i0 : 0; j0 < b.size(0); j0 += kDuplicateBlockRows) {
      const auto block_b = b.slice(0, j0, std::min(b.size(0), j0 + kDuplicateBlockRows));
      const auto sim = torch::mm(block_a, block_b.t());
      auto mask = sim >= cut;
      if (same_set && j0 == i0) mask = mask.triu(1);  // the diagonal block: i < j only
      const auto hits = mask.nonzero();                // row-major, as masked_select
      const int64_t found = hits.size(0);
      if (found == 0) continue;
      const auto values = sim.masked_select(mask).contiguous();
      const auto where = hits.contiguous();
      const int64_t* ij = where.data_ptr<int64_t>();
      const float* s = values.data_ptr<float>();
      for (int64_t k = 0; k < found; ++k) {
        const int64_t i = i0 + ij[2 * k], j = j0 + ij[2 * k + 1];
        involved_a[static_cast<size_t>(i)] = 1;
        marks_b[static_cast<size_t>(j)] = 1;
        if (max_pairs > 0) kept.push_back({i, j, s[k]});
      }
      report.total_pairs += found;
      if (kept.size() > trim_at) keepBest(kept, max_pairs);
    }
  }
  keepBest(kept, max_pairs);
  std::sort(kept.begin(), kept.end(), pairBefore);
  report.pairs = std::move(kept);
  report.images_involved = std::count(involved_a.begin(), involved_a.end(), 1) +
                           std::count(involved_b.begin(), involved_b.end(), 1);
  return report;
}

}  // namespace

ClassificationReport classificationReport(const torch::Tensor& predictions, const torch::Tensor& labels,
                                          int64_t num_classes, const torch::Tensor& probabilities) {
  checkNumClasses(num_classes);
  const auto pred = labelVector(predictions, "predictions", num_classes);
  const int64_t n = pred.size(0);
  if (n == 0) throwBadInput("predictions: expected at least one prediction, got none");
  const auto y = labelVector(labels, "labels", num_classes, n, "predictions");

  ClassificationReport report;
  report.confusion = torch::bincount(y * num_classes + pred, {}, num_classes * num_classes)
                         .view({num_classes, num_classes});
  const auto diagonal = report.confusion.diagonal().contiguous();
  const auto row_totals = report.confusion.sum(1).contiguous();
  const int64_t* correct = diagonal.data_ptr<int64_t>();
  const int64_t* totals = row_totals.data_ptr<int64_t>();
  int64_t all_correct = 0;
  report.per_class_accuracy.resize(static_cast<size_t>(num_classes));
  for (int64_t c = 0; c < num_classes; ++c) {
    all_correct += correct[c];
    report.per_class_accuracy[static_cast<size_t>(c)] =
        totals[c] > 0 ? static_cast<double>(correct[c]) / static_cast<double>(totals[c]) : -1.0;
  }
  report.top1 = static_cast<double>(all_correct) / static_cast<double>(n);

  if (probabilities.defined()) {
    if (probabilities.dim() != 2 || probabilities.size(0) != n || probabilities.size(1) != num_classes)
      throwBadInput("probabilities: expected shape [" + std::to_string(n) + ", " + std::to_string(num_classes) +
                    "] (predictions x num_classes), got " + shapeText(probabilities));
    report.expected_calibration_error = expectedCalibrationError(probabilities, y);
  }
  return report;
}

double expectedCalibrationError(const torch::Tensor& probabilities, const torch::Tensor& labels, int64_t bins) {
  if (bins < 1) throwBadInput("bins: expected >= 1, got " + std::to_string(bins));
  const auto p = floatMatrix(probabilities, "probabilities", "[N, C]");
  const int64_t n = p.size(0);
  if (n == 0 || p.size(1) == 0) throwBadInput("probabilities: expected at least one row and one class, got " + shapeText(p));
  const auto y = labelVector(labels, "labels", p.size(1), n, "probabilities");
  // Softmax output can overshoot 1 by a rounding error; anything beyond is not a probability.
  if (p.min().item<float>() < 0.f || p.max().item<float>() > 1.f + 1e-5f)
    throwBadInput("probabilities: expected values in [0, 1]");

  const auto top = p.max(1);
  const auto confidence = std::get<0>(top).to(torch::kDouble).clamp(0.0, 1.0);
  const auto correct = (std::get<1>(top) == y).to(torch::kDouble);
  // Bins (i/B, (i+1)/B]: confidence 1 falls in the last bin, 0 in the first.
  const auto bin = (confidence * static_cast<double>(bins)).ceil().sub(1).clamp(0, bins - 1).to(torch::kLong);
  // sum_b (n_b / N) |acc_b - conf_b| = sum_b |correct_b - confidence_b| / N, with sums per bin.
  const auto correct_sum = torch::bincount(bin, correct, bins);
  const auto confidence_sum = torch::bincount(bin, confidence, bins);
  return (correct_sum - confidence_sum).abs().sum().item<double>() / static_cast<double>(n);
}

LinearProbeResult linearProbe(const torch::Tensor& train_x, const torch::Tensor& train_y, const torch::Tensor& test_x,
                              const torch::Tensor& test_y, int64_t num_classes, const LinearProbeOptions& options) {
  checkNumClasses(num_classes, 2);
  if (options.weight_decays.empty()) throwBadInput("weight_decays: expected at least one candidate, got none");
  for (double wd : options.weight_decays)
    if (!(wd >= 0) || !std::isfinite(wd))
      throwBadInput("weight_decays: expected finite values >= 0, got " + num(wd));
  if (!(options.validation_fraction > 0 && options.validation_fraction < 1))
    throwBadInput("validation_fraction: expected a share in (0, 1), got " + num(options.validation_fraction));
  if (options.max_iterations < 1)
    throwBadInput("max_iterations: expected >= 1, got " + std::to_string(options.max_iterations));

  const auto x_train = floatMatrix(train_x, "train_x", "[N, D]");
  if (x_train.size(0) < 2 || x_train.size(1) < 1)
    throwBadInput("train_x: expected at least 2 rows and 1 column, got " + shapeText(x_train));
  const auto y_train = labelVector(train_y, "train_y", num_classes, x_train.size(0), "train_x");
  const auto x_test = floatMatrix(test_x, "test_x", "[M, D]");
  if (x_test.size(1) != x_train.size(1))
    throwBadInput("test_x: expected " + std::to_string(x_train.size(1)) + " columns (as train_x), got " +
                  std::to_string(x_test.size(1)));
  if (x_test.size(0) < 1) throwBadInput("test_x: expected at least one row, got none");
  const auto y_test = labelVector(test_y, "test_y", num_classes, x_test.size(0), "test_x");

  // Standardise with training statistics only: the test features must not shape the probe.
  // The validation rows share them; the statistics use no labels, so they cannot favour a
  // weight decay.
  const auto mean = x_train.mean(0, true);
  const auto std = (x_train - mean).pow(2).mean(0, true).sqrt().clamp_min(kMinFeatureStd);
  const auto train = (x_train - mean) / std;
  const auto test = (x_test - mean) / std;

  // Class-balanced validation split: every class with two or more examples gives
  // round(fraction * n) of them (at least one, never all) to validation.
  const auto by_class = shuffledByClass(y_train, num_classes, options.seed);
  std::vector<int64_t> fit_rows, validation_rows;
  for (const auto& members : by_class) {
    const auto count = static_cast<int64_t>(members.size());
    const int64_t held = count < 2 ? 0
                                   : std::clamp<int64_t>(std::llround(options.validation_fraction * count), 1, count - 1);
    validation_rows.insert(validation_rows.end(), members.begin(), members.begin() + held);
    fit_rows.insert(fit_rows.end(), members.begin() + held, members.end());
  }
  std::sort(fit_rows.begin(), fit_rows.end());
  std::sort(validation_rows.begin(), validation_rows.end());

  LinearProbeResult result;
  if (validation_rows.empty()) {
    if (options.weight_decays.size() > 1)
      throwBadInput("train_y: no class has two or more examples, so no validation split can choose among " +
                    std::to_string(options.weight_decays.size()) + " weight_decays; give a single candidate");
    result.chosen_weight_decay = options.weight_decays.front();
    result.validation_top1 = -1;
  } else {
    const auto fit_index = indexTensor(fit_rows), validation_index = indexTensor(validation_rows);
    const auto x_fit = train.index_select(0, fit_index), y_fit = y_train.index_select(0, fit_index);
    const auto x_val = train.index_select(0, validation_index), y_val = y_train.index_select(0, validation_index);
    int64_t best_correct = -1;
    for (double wd : options.weight_decays) {
      const auto model = fitLogistic(x_fit, y_fit, num_classes, wd, options.max_iterations);
      const int64_t correct = (logitsOf(model, x_val).argmax(1) == y_val).sum().item<int64_t>();
      // Ties go to the stronger decay: equally accurate on validation, the more regularised
      // model is the less likely to have fitted noise in the training features.
      if (correct > best_correct || (correct == best_correct && wd > result.chosen_weight_decay)) {
        best_correct = correct;
        result.chosen_weight_decay = wd;
      }
    }
    result.validation_top1 = static_cast<double>(best_correct) / static_cast<double>(validation_rows.size());
  }

  const auto model = fitLogistic(train, y_train, num_classes, result.chosen_weight_decay, options.max_iterations);
  torch::NoGradGuard no_grad;
  result.test_probabilities = torch::softmax(logitsOf(model, test), 1);
  result.report = classificationReport(result.test_probabilities.argmax(1), y_test, num_classes, result.test_probabilities);
  return result;
}

LinearClassifier fitLinearClassifier(const torch::Tensor& x, const torch::Tensor& y, int64_t num_classes,
                                     double weight_decay, int64_t max_iterations) {
  checkNumClasses(num_classes, 2);
  if (!(weight_decay >= 0) || !std::isfinite(weight_decay))
    throwBadInput("weight_decay: expected a finite value >= 0, got " + num(weight_decay));
  const auto features = floatMatrix(x, "x", "[N, D]");
  if (features.size(0) < 1) throwBadInput("x: expected at least one row, got none");
  const auto labels = labelVector(y, "y", num_classes, features.size(0), "x");
  const auto mean = features.mean(0, true);
  const auto std = (features - mean).pow(2).mean(0, true).sqrt().clamp_min(kMinFeatureStd);
  const auto model = fitLogistic((features - mean) / std, labels, num_classes, weight_decay, max_iterations);
  // ((x - m) / s) @ W + b = x @ (W / s^T) + (b - (m / s) @ W)
  LinearClassifier c;
  c.weight = model.weight / std.t();
  c.bias = model.bias - torch::mm(mean / std, model.weight).squeeze(0);
  return c;
}

torch::Tensor balancedSubset(const torch::Tensor& labels, int64_t num_classes, double fraction, int64_t seed) {
  checkNumClasses(num_classes);
  if (!(fraction > 0 && fraction <= 1)) throwBadInput("fraction: expected a share in (0, 1], got " + num(fraction));
  const auto y = labelVector(labels, "labels", num_classes);
  // One shuffle per class, taken as a prefix: with one seed, the 1% subset lies inside the
  // 10% one, so label-efficiency curves differ only by the labels added.
  const auto by_class = shuffledByClass(y, num_classes, seed);
  std::vector<int64_t> chosen;
  for (const auto& members : by_class) {
    if (members.empty()) continue;
    const auto count = static_cast<int64_t>(members.size());
    const int64_t take = std::clamp<int64_t>(std::llround(fraction * count), 1, count);
    chosen.insert(chosen.end(), members.begin(), members.begin() + take);
  }
  std::sort(chosen.begin(), chosen.end());
  return indexTensor(chosen);
}

Neighbours nearestNeighbours(const torch::Tensor& bank, const torch::Tensor& query, int64_t k, int64_t exclude_index) {
  if (k < 1) throwBadInput("k: expected >= 1 neighbours, got " + std::to_string(k));
  if (!bank.defined() || bank.dim() != 2 || !bank.is_floating_point())
    throwBadInput("bank: expected floating-point embeddings [M, D], got shape " + shapeText(bank) +
                  (bank.defined() ? " dtype " + dtypeText(bank) : ""));
  const int64_t rows = bank.size(0);
  if (rows == 0) throwBadInput("bank: expected at least one row, got none");
  auto q = query;
  if (q.defined() && q.dim() == 2 && q.size(0) == 1) q = q[0];
  if (!q.defined() || q.dim() != 1 || q.size(0) != bank.size(1) || !q.is_floating_point())
    throwBadInput("query: expected one floating-point row of " + std::to_string(bank.size(1)) +
                  " values (as bank), got shape " + shapeText(query));
  if (exclude_index < -1 || exclude_index >= rows)
    throwBadInput("exclude_index: expected -1 or a row of bank in [0, " + std::to_string(rows) + "), got " +
                  std::to_string(exclude_index));

  // No copy or check of the bank here (it can be 70,000 rows): one product, one top-k.
  torch::NoGradGuard no_grad;
  q = q.detach().to(bank.options());
  q = q / q.norm().clamp_min(1e-12);
  auto sims = bank.detach().mv(q);
  if (exclude_index >= 0) sims[exclude_index].fill_(-std::numeric_limits<float>::infinity());
  const int64_t available = rows - (exclude_index >= 0 ? 1 : 0);
  Neighbours result;
  const int64_t take = std::min(k, available);
  if (take == 0) return result;
  const auto top = sims.topk(take, 0, /*largest=*/true, /*sorted=*/true);
  const auto values = std::get<0>(top).to(torch::kCPU, torch::kFloat32).contiguous();
  const auto indices = std::get<1>(top).to(torch::kCPU, torch::kLong).contiguous();
  result.similarities.assign(values.data_ptr<float>(), values.data_ptr<float>() + take);
  result.indices.assign(indices.data_ptr<int64_t>(), indices.data_ptr<int64_t>() + take);
  return result;
}

DuplicateReport findDuplicates(const torch::Tensor& x, double threshold, int64_t max_pairs) {
  checkPairSearch(threshold, max_pairs);
  const auto rows = F::normalize(floatMatrix(x, "x", "[N, D]"), F::NormalizeFuncOptions().dim(1));
  return searchPairs(rows, rows, /*same_set=*/true, threshold, max_pairs);
}

DuplicateReport findLeaks(const torch::Tensor& train, const torch::Tensor& test, double threshold, int64_t max_pairs) {
  checkPairSearch(threshold, max_pairs);
  const auto a = F::normalize(floatMatrix(train, "train", "[N, D]"), F::NormalizeFuncOptions().dim(1));
  const auto b = F::normalize(floatMatrix(test, "test", "[M, D]"), F::NormalizeFuncOptions().dim(1));
  if (a.size(1) != b.size(1))
    throwBadInput("test: expected " + std::to_string(a.size(1)) + " columns (as train), got " +
                  std::to_string(b.size(1)));
  return searchPairs(a, b, /*same_set=*/false, threshold, max_pairs);
}

}  // namespace studio
