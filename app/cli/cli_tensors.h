#pragma once
// Tensors read from a run folder, shared by the eval, map and export commands. Kept out of
// cli_args.h so that the files that include no torch (cli_args.cpp, train_commands.cpp)
// skip the precompiled torch header (app/CMakeLists.txt).
#include <utility>

#include <torch/types.h>

#include "core/runs/run_folder.h"

namespace studio::cli {

// The run's probe-set embeddings and labels as written at the end of training.
std::pair<torch::Tensor, torch::Tensor> readRunEmbeddings(const studio::RunFolder& folder);

}  // namespace studio::cli
