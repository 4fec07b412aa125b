#pragma once
// Checkpoints: the only way state leaves a run and the only way it comes back. One file
// holds the model, the optimizer, the step, the config, the best kNN so far and the
// global RNG state; it is written to a temporary file and renamed, so a run killed while
// writing keeps its previous checkpoint.
#include <cstdint>
#include <string>

#include "core/model/method.h"
#include "core/model/optim.h"

namespace studio {

struct CheckpointInfo {
  int64_t step = 0;          // optimizer steps done
  std::string config_json;   // the resolved experiment config
  std::string signature;     // modelSignature() of the model that wrote it
  double best_knn = -1.0;
};

void saveCheckpoint(const std::string& path, ContrastiveModel& model, const TrainingOptimizer* optimizer,
                    const CheckpointInfo& info);

// Loads into model (and optimizer, when given). Refuses, with studio::Error(BadInput)
// naming the file: a missing, truncated or foreign file, and one written by another
// architecture (the message names both).
CheckpointInfo loadCheckpoint(const std::string& path, ContrastiveModel& model, TrainingOptimizer* optimizer);

// Reads only the metadata (to rebuild the model a checkpoint needs).
CheckpointInfo readCheckpointInfo(const std::string& path);

}  // namespace studio
