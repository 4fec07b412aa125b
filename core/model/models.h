#pragma once
// Encoders and projection heads. A Backbone maps images to a feature vector (what kNN,
// t-SNE and exports use); a ProjectionHead maps features to the space a method's loss sees
// (method.h joins the two). Grayscale and colour inputs alike.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>

#include "core/experiment/config.h"

namespace studio {

class BackboneImpl : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  int64_t featureDim() const { return feature_dim_; }

  // The name a parameter or buffer has outside the studio, from its name here: torchvision's
  // for the ResNets (the same), conv1/bn1/conv2/... for the ConvNet (README, "Model exchange").
  virtual std::string exchangeName(const std::string& name) const { return name; }
  // What an exporter needs to rebuild the graph: {"backbone", "in_channels", "feature_dim",
  // and "stem"/"block"/"blocks" (ResNets) or "width" (ConvNet)}.
  virtual nlohmann::json architecture() const = 0;

  // Stages from the input on (the stem, then each group of blocks), as prefixes of the
  // parameter names: what optim.freeze_stages counts.
  virtual std::vector<std::vector<std::string>> stagePrefixes() const = 0;
  int64_t stageCount() const { return static_cast<int64_t>(stagePrefixes().size()); }
  // Freezes the first n stages: their parameters stop taking gradients and their batch
  // norms keep their statistics (eval mode) even while the rest trains. BadInput when n is
  // more than the stages there are.
  void freezeStages(int64_t n);
  int64_t frozenStages() const { return frozen_stages_; }
  // Module::train, then the frozen stages back to eval mode.
  void train(bool on = true) override;

 protected:
  int64_t feature_dim_ = 0;
  int64_t frozen_stages_ = 0;
};

class ProjectionHeadImpl : public torch::nn::Module {
 public:
  // dims: hidden widths..., output width. Linear-BN-ReLU per hidden layer, a plain Linear
  // at the end (SimCLR's head), and a BatchNorm there too with output_norm (SimSiam's).
  ProjectionHeadImpl(int64_t in_dim, const std::vector<int64_t>& dims, bool output_norm = false);
  torch::Tensor forward(torch::Tensor x);

 private:
  torch::nn::Sequential layers_{nullptr};
};
TORCH_MODULE(ProjectionHead);

// "auto" stem: CIFAR stem (3x3, no pooling) below 64 pixels, ImageNet stem above.
std::shared_ptr<BackboneImpl> makeBackbone(const ModelConfig& config, int64_t in_channels, int64_t image_size);

// The encoder's parameters and buffers under their exchange names, module by module in the
// order torchvision's state_dict lists them (weight, bias, running_mean, ...): what exports write.
std::vector<std::pair<std::string, torch::Tensor>> exchangeTensors(BackboneImpl& backbone);

// A string that identifies the architecture and every parameter's shape: a checkpoint
// is only loaded into a model with the same signature.
std::string modelSignature(torch::nn::Module& model);

}  // namespace studio
