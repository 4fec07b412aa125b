#include "core/eval/knn.h"

#include <torch/torch.h>

namespace F = torch::nn::functional;

namespace studio {

torch::Tensor knnPredict(const torch::Tensor& bank, const torch::Tensor& bank_labels, const torch::Tensor& queries,
                         int64_t num_classes, const KnnOptions& options) {
  torch::NoGradGuard no_grad;
  const int64_t k = std::min<int64_t>(options.k, bank.size(0));
  const auto labels = bank_labels.to(bank.device(), torch::kLong);
  std::vector<torch::Tensor> predictions;
  for (int64_t start = 0; start < queries.size(0); start += options.chunk) {
    const auto q = queries.slice(0, start, std::min(queries.size(0), start + options.chunk)).to(bank.device());
    const auto sim = torch::mm(q, bank.t());
    const auto top = sim.topk(k, 1);
    const auto weights = (std::get<0>(top) / options.temperature).exp();
    const auto neighbour_labels = labels.index_select(0, std::get<1>(top).reshape(-1)).view({q.size(0), k});
    auto votes = torch::zeros({q.size(0), num_classes}, weights.options());
    votes.scatter_add_(1, neighbour_labels, weights);
    predictions.push_back(votes.argmax(1));
  }
  return torch::cat(predictions).cpu();
}

double knnAccuracy(const torch::Tensor& bank, const torch::Tensor& bank_labels, const torch::Tensor& queries,
                   const torch::Tensor& query_labels, int64_t num_classes, const KnnOptions& options) {
  const auto pred = knnPredict(bank, bank_labels, queries, num_classes, options);
  return (pred == query_labels.cpu()).to(torch::kDouble).mean().item<double>();
}

torch::Tensor embedImages(ContrastiveModel& model, const Augmenter& augmenter, const torch::Tensor& images,
                          const torch::Device& device, int64_t batch_size) {
  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < images.size(0); start += batch_size) {
    const auto batch = images.slice(0, start, std::min(images.size(0), start + batch_size)).to(device);
    const auto features = model->features(augmenter.prepare(batch));
    parts.push_back(F::normalize(features.to(torch::kFloat32), F::NormalizeFuncOptions().dim(1)).cpu());
  }
  model->train(was_training);
  return torch::cat(parts);
}

torch::Tensor rawPixelFeatures(const torch::Tensor& images) {
  const auto flat = images.reshape({images.size(0), -1}).to(torch::kFloat32).div(255.0);
  return F::normalize(flat, F::NormalizeFuncOptions().dim(1));
}

}  // namespace studio
