#pragma once
// The label-efficiency study of a run, as the CLI's `probe` and the studio's Results page run
// it: the run's encoder (and baselines) embed a labelled training bank and the held-out
// queries, then every representation x classifier arm goes through runLabelStudy
// (core/eval/label_study.h). Torch-free, so the GUI can call it from its worker thread.
//
// Frozen representations: "pretrained" (the run's last checkpoint), "random-init" (the same
// architecture untrained, seeded by the run's seed), "raw-pixels" (flattened images), each
// with every classifier asked for ("linear probe", "kNN"). Supervised representations:
// "scratch" (the architecture trained on the labelled subset from random weights) and
// "finetuned" (the run's encoder fine-tuned on it), core/eval/supervised.h; each is one arm with
// the classifier "supervised" (its own linear head).
#include <cstdint>
#include <string>
#include <vector>

#include "core/experiment/finetune_options.h"
#include "core/runs/run_folder.h"
#include "core/eval/study_result.h"

namespace studio {

struct RunStudyOptions {
  std::vector<double> fractions = {0.01, 0.1, 1.0};
  int64_t seeds = 3;
  std::vector<std::string> representations = {"pretrained", "random-init", "raw-pixels"};
  std::vector<std::string> classifiers = {"linear probe", "kNN"};
  int64_t bank_size = 10000;   // labelled training images the subsets are drawn from (0 = all)
  int64_t query_size = 10000;  // held-out images scored (0 = all)
  std::string device = "auto";
  int64_t knn_k = 200;
  double knn_temperature = 0.1;
  int64_t probe_iterations = 200;  // L-BFGS iterations per linear-probe fit
  // The supervised arms' training (label_fraction and seed are set per fit, from_pretrained
  // by the arm).
  FinetuneOptions finetune;
};

// The names runRunStudy accepts (frozen and supervised representations).
std::vector<std::string> knownStudyRepresentations();
bool isSupervisedRepresentation(const std::string& name);
std::vector<std::string> knownStudyClassifiers();

// Throws BadInput naming an unknown representation or classifier, a run without a checkpoint
// or labelled held-out split; Error(Cancelled) when progress returns false.
StudyResult runRunStudy(const RunFolder& folder, const RunStudyOptions& options, const StudyProgress& progress = {});

// label_efficiency.json, .csv and .svg in the run folder; returns the three paths.
std::vector<std::string> saveStudy(const RunFolder& folder, const StudyResult& result);

// The saved study of a run, or an empty result (no cells) when it has none.
StudyResult loadSavedStudy(const RunFolder& folder);

}  // namespace studio
