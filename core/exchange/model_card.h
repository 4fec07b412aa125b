#pragma once
// The model card written beside every export (model_card.json and model_card.md): what
// the model is, what it was trained on (dataset, size, content hash, licence note), how
// (method, augmentations, settings, the weights it started from), how well it does (the
// evaluations found in the run folder) and which studio made it. Torch-free.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/experiment/config.h"
#include "core/runs/run_folder.h"

namespace studio {

struct ModelCardInput {
  const RunFolder* run = nullptr;
  ExperimentConfig config;         // the run's resolved config
  std::string model_kind;          // encoder | classifier
  std::string format;              // safetensors | onnx
  std::vector<std::string> files;  // file names in the export folder
  nlohmann::json architecture;     // as written to architecture.json (with "input")
  int64_t train_images = 0, held_out_images = 0;
  std::vector<std::string> class_names;
  std::string content_hash;        // of the dataset as loaded
  std::string licence;             // the user's note, may be empty
  int64_t step = 0;                // the checkpoint's step
};

// Evaluation results are read from the run folder: the last "end" record of metrics.jsonl
// (kNN), label_efficiency.json (probe), finetune/finetune.json and init_weights.json.
nlohmann::json buildModelCard(const ModelCardInput& input);
std::string modelCardMarkdown(const nlohmann::json& card);

}  // namespace studio
