#pragma once
// Models leave the studio in forms the rest of the world loads: safetensors with
// torchvision's names (torchvision.models.resnet18() loads a ResNet-18 encoder with
// strict=False, only fc missing) and ONNX (opset 17+, dynamic batch, the input
// normalisation in metadata_props), each with architecture.json and a model card
// (model_card.json, model_card.md). ONNX is built by contrastive-onnx-export, a separate
// executable that links the ONNX library and not LibTorch (their protobufs stay apart).
// Torch-free: the GUI includes this header.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/runs/run_folder.h"

namespace studio {

struct ExportOptions {
  std::string format = "safetensors";  // safetensors | onnx
  std::string model = "encoder";       // encoder (the run's last checkpoint) | classifier (after finetune)
  std::string out_dir;                 // empty = <run>/export-<format>
  std::string licence;                 // the dataset's licence, as the user states it, for the model card
  std::string onnx_exporter;           // contrastive-onnx-export; empty = findOnnxExporter()
  int64_t onnx_opset = 17;
  std::string device = "cpu";          // where the checkpoint is loaded (export math is on the CPU)
};

struct ExportResult {
  std::string model_path;          // the .safetensors or .onnx file
  std::vector<std::string> files;  // every file written, model first
  nlohmann::json card;             // the model card
};

// Called with the share done in [0, 1] and what happens now; false cancels (the export
// then throws Error(Cancelled) and leaves no half-written model file).
using ExportProgress = std::function<bool(double done, const std::string& stage)>;

// Throws BadInput naming the run and the problem (no checkpoint, no fine-tuned classifier,
// unknown format, an exporter that is missing or refuses), Failure when a file cannot be written.
ExportResult exportModel(const RunFolder& run, const ExportOptions& options, const ExportProgress& progress = {});

// contrastive-onnx-export: $STUDIO_ONNX_EXPORTER, else beside this executable or one folder
// up (the build tree keeps the GUI in app/studio/), else on PATH. Empty when not found.
std::string findOnnxExporter();

}  // namespace studio
