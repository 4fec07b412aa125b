#include "core/eval/run_study.h"

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>

#include "core/experiment/config.h"
#include "core/base/error.h"
#include "core/eval/knn.h"
#include "core/eval/label_study.h"
#include "core/eval/run_embeddings.h"
#include "core/eval/supervised.h"

namespace studio {

namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// Training and test features of one representation.
struct Features {
  torch::Tensor train, test;
};

}  // namespace

std::vector<std::string> knownStudyRepresentations() {
  return {"pretrained", "random-init", "raw-pixels", "scratch", "finetuned"};
}
bool isSupervisedRepresentation(const std::string& name) { return name == "scratch" || name == "finetuned"; }
std::vector<std::string> knownStudyClassifiers() { return {"linear probe", "kNN"}; }

StudyResult runRunStudy(const RunFolder& folder, const RunStudyOptions& options, const StudyProgress& progress) {
  const auto known_representations = knownStudyRepresentations();
  const auto known_classifiers = knownStudyClassifiers();
  const bool any_frozen = std::any_of(options.representations.begin(), options.representations.end(),
                                      [](const std::string& r) { return !isSupervisedRepresentation(r); });
  if (options.representations.empty() || (any_frozen && options.classifiers.empty()))
    throwBadInput("label study: choose at least one representation (" + joined(known_representations) +
                  ") and one classifier (" + joined(known_classifiers) + ")");
  for (const auto& r : options.representations)
    if (std::find(known_representations.begin(), known_representations.end(), r) == known_representations.end())
      throwBadInput("label study: unknown representation \"" + r + "\" (known: " + joined(known_representations) + ")");
  for (const auto& c : options.classifiers)
    if (std::find(known_classifiers.begin(), known_classifiers.end(), c) == known_classifiers.end())
      throwBadInput("label study: unknown classifier \"" + c + "\" (known: " + joined(known_classifiers) + ")");
  if (options.knn_k < 1) throwBadInput("label study: knn_k must be >= 1, got " + std::to_string(options.knn_k));
  if (!(options.knn_temperature > 0))
    throwBadInput("label study: knn_temperature must be positive, got " + std::to_string(options.knn_temperature));
  torch::NoGradGuard no_grad;

  const auto wants = [&](const std::string& r) {
    return std::find(options.representations.begin(), options.representations.end(), r) != options.representations.end();
  };
  if (progress && !progress(0, 1, "embedding the images")) throw Error(ErrorKind::Cancelled, "label study cancelled");
  // The pretrained pass also yields the images and labels every other representation uses.
  const bool pretrained_needed = wants("pretrained") || wants("finetuned");
  const RunEmbeddings base = embedRun(folder, options.bank_size, options.query_size, options.device,
                                      /*random_init=*/!pretrained_needed);
  const auto classes = static_cast<int64_t>(base.class_names.size());
  std::vector<std::pair<std::string, Features>> features;
  for (const auto& r : options.representations) {
    if (progress && !progress(0, 1, "embedding: " + r)) throw Error(ErrorKind::Cancelled, "label study cancelled");
    if (r == "pretrained") {
      features.push_back({r, {base.bank_features, base.query_features}});
    } else if (r == "random-init") {
      if (!pretrained_needed) {
        features.push_back({r, {base.bank_features, base.query_features}});
      } else {
        const RunEmbeddings random = embedRun(folder, options.bank_size, options.query_size, options.device, true);
        features.push_back({r, {random.bank_features, random.query_features}});
      }
    } else if (r == "raw-pixels") {
      features.push_back({r, {rawPixelFeatures(base.bank_images), rawPixelFeatures(base.query_images)}});
    }
  }

  // The last progress report, so that the supervised arms can poll for cancellation every
  // epoch with the study's current position.
  int64_t last_done = 0, last_total = 1;
  std::string last_what;
  const StudyProgress tracked = [&](int64_t done, int64_t total, const std::string& what) {
    last_done = done;
    last_total = total;
    last_what = what;
    return !progress || progress(done, total, what);
  };
  std::unique_ptr<SupervisedFinetuner> tuner;

  std::vector<StudyArm> arms;
  for (const auto& [name, f] : features) {
    for (const auto& c : options.classifiers) {
      if (c == "linear probe") {
        LinearProbeOptions po;
        po.max_iterations = options.probe_iterations;
        arms.push_back(linearProbeArm(name, f.train, base.bank_labels, f.test, base.query_labels, classes, po));
      } else {
        KnnOptions ko;
        ko.k = options.knn_k;
        ko.temperature = options.knn_temperature;
        arms.push_back(knnArm(name, f.train, base.bank_labels, f.test, base.query_labels, classes, ko));
      }
    }
  }
  for (const auto& r : options.representations) {
    if (!isSupervisedRepresentation(r)) continue;
    if (!tuner) tuner = std::make_unique<SupervisedFinetuner>(folder, options.device);
    StudyArm arm;
    arm.representation = r;
    arm.classifier = "supervised";
    // The subset arrives drawn (balancedSubset, as for the frozen arms); fine-tuning takes all
    // of it (fraction 1) and splits its validation images off inside.
    arm.evaluate = [&, r](const torch::Tensor& subset, int64_t seed) {
      torch::AutoGradMode training(true);  // the study runs under NoGradGuard; fine-tuning needs gradients
      FinetuneOptions fo = options.finetune;
      fo.label_fraction = 1.0;
      fo.seed = seed;
      fo.from_pretrained = r == "finetuned";
      const auto fit = tuner->run(base.bank_images.index_select(0, subset), base.bank_labels.index_select(0, subset),
                                  base.query_images, base.query_labels, classes, fo, [&](const FinetuneProgress& p) {
                                    return !progress || progress(last_done, last_total,
                                                                 last_what + ", epoch " + std::to_string(p.epoch) + "/" +
                                                                     std::to_string(p.max_epochs));
                                  });
      ClassificationReport report;
      report.top1 = fit.test_top1;
      report.per_class_accuracy = fit.per_class_accuracy;
      report.confusion = torch::tensor(fit.confusion, torch::kLong).reshape({classes, classes});
      report.expected_calibration_error = fit.expected_calibration_error;
      return report;
    };
    arms.push_back(std::move(arm));
  }
  LabelStudyOptions lo;
  lo.fractions = options.fractions;
  lo.seeds = options.seeds;
  lo.title = folder.id();
  lo.class_names = base.class_names;
  return runLabelStudy(arms, base.bank_labels, base.query_labels.size(0), classes, lo, tracked);
}

std::vector<std::string> saveStudy(const RunFolder& folder, const StudyResult& result) {
  const std::string base = folder.path() + "/label_efficiency";
  writeFileAtomically(base + ".json", studyToJson(result));
  writeStudyCsv(base + ".csv", result);
  writeFileAtomically(base + ".svg", studySvg(result));
  return {base + ".json", base + ".csv", base + ".svg"};
}

StudyResult loadSavedStudy(const RunFolder& folder) {
  const std::string path = folder.path() + "/label_efficiency.json";
  if (!std::filesystem::exists(path)) return {};
  try {
    return studyFromJson(readTextFile(path));
  } catch (const Error& e) {
    throw Error(e.kind(), path + ": " + e.what());
  }
}

}  // namespace studio
