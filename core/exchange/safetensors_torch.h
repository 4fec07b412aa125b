#pragma once
// safetensors files as torch tensors: the bridge between core/base/safetensors.h (torch-free,
// shared with the ONNX exporter) and the engine.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "core/base/safetensors.h"

namespace studio {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// The entry as a CPU tensor of its own dtype (a copy: it outlives the file).
torch::Tensor safetensorsTensor(const SafetensorsFile& file, const SafetensorsEntry& entry);
// Every tensor of a file, in data order. Refuses what SafetensorsFile refuses.
NamedTensors readSafetensorsTensors(const std::string& path, std::map<std::string, std::string>* metadata = nullptr);
// The safetensors dtype name of a torch dtype; BadInput for dtypes the format lacks.
std::string safetensorsDtypeOf(torch::ScalarType type);
// Writes the tensors (moved to the CPU, made contiguous) in the order given, atomically.
void writeSafetensorsTensors(const std::string& path, const NamedTensors& tensors,
                             const std::map<std::string, std::string>& metadata = {});

}  // namespace studio
