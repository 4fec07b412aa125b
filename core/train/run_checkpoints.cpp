#include "core/train/run_checkpoints.h"

#include "core/model/checkpoint.h"

namespace studio {

RunCheckpoints::RunCheckpoints(const RunFolder& folder, const ExperimentConfig& config, ContrastiveModel& model,
                               TrainingOptimizer& optimizer)
    : folder_(folder), config_(config), model_(model), optimizer_(optimizer) {}

RunCheckpoints::Start RunCheckpoints::restore(bool resuming) {
  Start start;
  if (resuming && folder_.hasCheckpoint()) {
    const CheckpointInfo info = loadCheckpoint(folder_.checkpointPath(), model_, &optimizer_);
    start.step = info.step;
    start.best_knn = info.best_knn;
    folder_.truncateMetricsAfter(start.step);
  } else if (resuming) {
    folder_.truncateMetricsAfter(0);
  }
  return start;
}

void RunCheckpoints::save(int64_t step, double best_knn) {
  CheckpointInfo info;
  info.step = step;
  info.best_knn = best_knn;
  info.config_json = config_.toJson().dump();
  saveCheckpoint(folder_.checkpointPath(), model_, &optimizer_, info);
  last_saved_ = step;
}

int64_t RunCheckpoints::standing() const {
  if (last_saved_ >= 0) return last_saved_;
  return folder_.hasCheckpoint() ? readCheckpointInfo(folder_.checkpointPath()).step : -1;
}

}  // namespace studio
