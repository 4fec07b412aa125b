#include "app/cli/cli_tensors.h"

#include <cstdint>
#include <filesystem>

#include <torch/torch.h>

#include "core/base/error.h"
#include "core/base/npy.h"
#include "core/runs/run_folder.h"

namespace studio::cli {

std::pair<torch::Tensor, torch::Tensor> readRunEmbeddings(const studio::RunFolder& folder) {
  if (!std::filesystem::exists(folder.embeddingsPath()))
    studio::throwBadInput(folder.path() + ": the run has no embeddings.npy yet (it is written when training finishes)");
  const auto e = studio::readNpy(folder.embeddingsPath());
  const auto l = studio::readNpy(folder.embeddingLabelsPath());
  if (e.dtype != "<f4" || e.shape.size() != 2 || l.dtype != "<i8" || l.shape.size() != 1 || l.shape[0] != e.shape[0])
    studio::throwBadInput(folder.embeddingsPath() + ": expected float32 [N, D] embeddings with int64 [N] labels");
  auto features = torch::from_blob(const_cast<uint8_t*>(e.bytes.data()), {e.shape[0], e.shape[1]}, torch::kFloat32).clone();
  auto labels = torch::from_blob(const_cast<uint8_t*>(l.bytes.data()), {l.shape[0]}, torch::kInt64).clone();
  return {features, labels};
}

}  // namespace studio::cli
