#pragma once
// A run's checkpoints as it trains: where a resumed run starts (the last checkpoint's step
// and best kNN, the metrics written after it dropped), and the model and optimizer saved
// atomically as the run goes, so that a killed run resumes on the same trajectory.
#include <cstdint>

#include "core/experiment/config.h"
#include "core/model/method.h"
#include "core/model/optim.h"
#include "core/runs/run_folder.h"

namespace studio {

class RunCheckpoints {
 public:
  // Keeps references to all four.
  RunCheckpoints(const RunFolder& folder, const ExperimentConfig& config, ContrastiveModel& model,
                 TrainingOptimizer& optimizer);

  struct Start {
    int64_t step = 0;
    double best_knn = -1;
  };
  // A new run starts at 0; a resumed one from its last checkpoint (or from 0 when it has none),
  // its metrics after that step dropped.
  Start restore(bool resuming);
  void save(int64_t step, double best_knn);
  // The step of the last checkpoint this session wrote, -1 before the first.
  int64_t lastSaved() const { return last_saved_; }
  // The step of the checkpoint on disk (this session's or an earlier one's), -1 when none.
  int64_t standing() const;

 private:
  const RunFolder& folder_;
  const ExperimentConfig& config_;
  ContrastiveModel& model_;
  TrainingOptimizer& optimizer_;
  int64_t last_saved_ = -1;
};

}  // namespace studio
