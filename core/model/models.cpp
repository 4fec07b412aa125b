#include "core/model/models.h"

#include <torch/torch.h>

#include <cstring>
#include <stdexcept>

#include "core/base/error.h"

namespace nn = torch::nn;

namespace studio {
namespace {

nn::Conv2d conv(int64_t in, int64_t out, int64_t k, int64_t stride = 1) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(k / 2).bias(false));
}

// Small VGG-style ConvNet: three conv-BN-ReLU stages with pooling, then global average
// pooling. About 7.5 M multiply-adds per 28x28 image: fast enough on a 2-core CPU.
class ConvNetImpl : public BackboneImpl {
 public:
  ConvNetImpl(int64_t in_channels, int64_t width) : in_channels_(in_channels), width_(width) {
    const int64_t w = width;
    net_ = register_module("net", nn::Sequential(conv(in_channels, w, 3), nn::BatchNorm2d(w), nn::ReLU(true),
                                                  nn::MaxPool2d(2), conv(w, 2 * w, 3), nn::BatchNorm2d(2 * w), nn::ReLU(true),
                                                  nn::MaxPool2d(2), conv(2 * w, 4 * w, 3), nn::BatchNorm2d(4 * w),
                                                  nn::ReLU(true), nn::AdaptiveAvgPool2d(1), nn::Flatten()));
    feature_dim_ = 4 * w;
  }
  torch::Tensor forward(torch::Tensor x) override { return net_->forward(x); }

  // net.0/1 -> conv1/bn1, net.4/5 -> conv2/bn2, net.8/9 -> conv3/bn3 (the Sequential's
  // ReLU and pooling layers hold no tensors).
  std::string exchangeName(const std::string& name) const override {
    static const std::pair<const char*, const char*> kNames[] = {{"net.0.", "conv1."}, {"net.1.", "bn1."},
                                                                 {"net.4.", "conv2."}, {"net.5.", "bn2."},
                                                                 {"net.8.", "conv3."}, {"net.9.", "bn3."}};
    for (const auto& [ours, theirs] : kNames)
      if (name.rfind(ours, 0) == 0) return theirs + name.substr(std::strlen(ours));
    return name;
  }
  nlohmann::json architecture() const override {
    return {{"backbone", wordOf(Backbone::ConvNet)}, {"in_channels", in_channels_}, {"width", width_}, {"feature_dim", feature_dim_}};
  }
  std::vector<std::vector<std::string>> stagePrefixes() const override {
    return {{"net.0.", "net.1."}, {"net.4.", "net.5."}, {"net.8.", "net.9."}};
  }

 private:
  nn::Sequential net_{nullptr};
  int64_t in_channels_ = 0, width_ = 0;
};

class BasicBlockImpl : public nn::Module {
 public:
  static constexpr int64_t kExpansion = 1;
  BasicBlockImpl(int64_t in, int64_t planes, int64_t stride) {
    conv1_ = register_module("conv1", conv(in, planes, 3, stride));
    bn1_ = register_module("bn1", nn::BatchNorm2d(planes));
    conv2_ = register_module("conv2", conv(planes, planes, 3));
    bn2_ = register_module("bn2", nn::BatchNorm2d(planes));
    if (stride != 1 || in != planes)
      downsample_ = register_module("downsample", nn::Sequential(conv(in, planes, 1, stride), nn::BatchNorm2d(planes)));
  }
  torch::Tensor forward(torch::Tensor x) {
    auto out = torch::relu(bn1_(conv1_(x)));
    out = bn2_(conv2_(out));
    return torch::relu(out + (downsample_ ? downsample_->forward(x) : x));
  }

 private:
  nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr};
  nn::Sequential downsample_{nullptr};
};
TORCH_MODULE(BasicBlock);

class BottleneckImpl : public nn::Module {
 public:
  static constexpr int64_t kExpansion = 4;
  BottleneckImpl(int64_t in, int64_t planes, int64_t stride) {
    conv1_ = register_module("conv1", conv(in, planes, 1));
    bn1_ = register_module("bn1", nn::BatchNorm2d(planes));
    conv2_ = register_module("conv2", conv(planes, planes, 3, stride));
    bn2_ = register_module("bn2", nn::BatchNorm2d(planes));
    conv3_ = register_module("conv3", conv(planes, planes * kExpansion, 1));
    bn3_ = register_module("bn3", nn::BatchNorm2d(planes * kExpansion));
    if (stride != 1 || in != planes * kExpansion)
      downsample_ = register_module(
          "downsample", nn::Sequential(conv(in, planes * kExpansion, 1, stride), nn::BatchNorm2d(planes * kExpansion)));
  }
  torch::Tensor forward(torch::Tensor x) {
    auto out = torch::relu(bn1_(conv1_(x)));
    out = torch::relu(bn2_(conv2_(out)));
    out = bn3_(conv3_(out));
    return torch::relu(out + (downsample_ ? downsample_->forward(x) : x));
  }

 private:
  nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr};
  nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr}, bn3_{nullptr};
  nn::Sequential downsample_{nullptr};
};
TORCH_MODULE(Bottleneck);

// ResNet with torchvision's parameter names (conv1, bn1, layerN.i.convM, ...), so that
// weights can be exchanged by name. The CIFAR stem is a 3x3 stride-1 conv without pooling.
class ResNetImpl : public BackboneImpl {
 public:
  ResNetImpl(const std::vector<int64_t>& blocks, bool bottleneck, int64_t in_channels, bool cifar_stem)
      : bottleneck_(bottleneck), cifar_stem_(cifar_stem), blocks_(blocks), in_channels_(in_channels) {
    conv1_ = register_module("conv1", cifar_stem ? conv(in_channels, 64, 3) : conv(in_channels, 64, 7, 2));
    bn1_ = register_module("bn1", nn::BatchNorm2d(64));
    int64_t in = 64;
    const int64_t planes[4] = {64, 128, 256, 512};
    for (int i = 0; i < 4; ++i) {
      nn::Sequential layer;
      for (int64_t b = 0; b < blocks[i]; ++b) {
        const int64_t stride = (b == 0 && i > 0) ? 2 : 1;
        if (bottleneck) {
          layer->push_back(Bottleneck(in, planes[i], stride));
          in = planes[i] * BottleneckImpl::kExpansion;
        } else {
          layer->push_back(BasicBlock(in, planes[i], stride));
          in = planes[i];
        }
      }
      layers_.push_back(register_module("layer" + std::to_string(i + 1), layer));
    }
    feature_dim_ = in;
    // Zero-init of the last BN in each residual branch is left out: torchvision's default.
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* c = m->as<nn::Conv2d>()) nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
    }
  }
  torch::Tensor forward(torch::Tensor x) override {
    x = torch::relu(bn1_(conv1_(x)));
    if (!cifar_stem_) x = torch::max_pool2d(x, 3, 2, 1);
    for (auto& l : layers_) x = l->forward(x);
    return torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
  }
  nlohmann::json architecture() const override {
    const Backbone backbone = bottleneck_ ? Backbone::ResNet50 : (blocks_[1] == 4 ? Backbone::ResNet34 : Backbone::ResNet18);
    return {{"backbone", wordOf(backbone)},
            {"in_channels", in_channels_},
            {"stem", wordOf(cifar_stem_ ? ResNetStem::Cifar : ResNetStem::ImageNet)},
            {"block", bottleneck_ ? "bottleneck" : "basic"},
            {"blocks", blocks_},
            {"feature_dim", feature_dim_}};
  }
  std::vector<std::vector<std::string>> stagePrefixes() const override {
    return {{"conv1.", "bn1."}, {"layer1."}, {"layer2."}, {"layer3."}, {"layer4."}};
  }

 private:
  bool bottleneck_, cifar_stem_;
  std::vector<int64_t> blocks_;
  int64_t in_channels_;
  nn::Conv2d conv1_{nullptr};
  nn::BatchNorm2d bn1_{nullptr};
  std::vector<nn::Sequential> layers_;
};

bool underPrefixes(const std::string& name, const std::vector<std::vector<std::string>>& stages, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    for (const auto& prefix : stages[static_cast<size_t>(i)])
      if (name.rfind(prefix, 0) == 0) return true;
  return false;
}

}  // namespace

void BackboneImpl::freezeStages(int64_t n) {
  const auto stages = stagePrefixes();
  if (n < 0 || n > static_cast<int64_t>(stages.size()))
    throwBadInput("config: optim.freeze_stages = " + std::to_string(n) + " but the " + architecture()["backbone"].get<std::string>() +
                  " has " + std::to_string(stages.size()) + " stages (0 freezes nothing)");
  frozen_stages_ = n;
  for (auto& p : named_parameters()) p.value().set_requires_grad(!underPrefixes(p.key(), stages, n));
  train(is_training());
}

void BackboneImpl::train(bool on) {
  torch::nn::Module::train(on);
  if (frozen_stages_ == 0 || !on) return;
  const auto stages = stagePrefixes();
  for (auto& m : named_modules("", /*include_self=*/false))
    if (underPrefixes(m.key() + ".", stages, frozen_stages_)) m.value()->eval();
}

ProjectionHeadImpl::ProjectionHeadImpl(int64_t in_dim, const std::vector<int64_t>& dims, bool output_norm) {
  nn::Sequential seq;
  int64_t in = in_dim;
  for (size_t i = 0; i + 1 < dims.size(); ++i) {
    seq->push_back(nn::Linear(nn::LinearOptions(in, dims[i]).bias(false)));
    seq->push_back(nn::BatchNorm1d(dims[i]));
    seq->push_back(nn::ReLU(true));
    in = dims[i];
  }
  seq->push_back(nn::Linear(in, dims.back()));
  if (output_norm) seq->push_back(nn::BatchNorm1d(dims.back()));
  layers_ = register_module("layers", seq);
}

torch::Tensor ProjectionHeadImpl::forward(torch::Tensor x) { return layers_->forward(x); }

std::shared_ptr<BackboneImpl> makeBackbone(const ModelConfig& config, int64_t in_channels, int64_t image_size) {
  const bool cifar = config.stem == ResNetStem::Cifar || (config.stem == ResNetStem::Auto && image_size < 64);
  switch (config.backbone) {
    case Backbone::ConvNet: return std::make_shared<ConvNetImpl>(in_channels, config.width);
    case Backbone::ResNet18: return std::make_shared<ResNetImpl>(std::vector<int64_t>{2, 2, 2, 2}, false, in_channels, cifar);
    case Backbone::ResNet34: return std::make_shared<ResNetImpl>(std::vector<int64_t>{3, 4, 6, 3}, false, in_channels, cifar);
    case Backbone::ResNet50: return std::make_shared<ResNetImpl>(std::vector<int64_t>{3, 4, 6, 3}, true, in_channels, cifar);
  }
  throw std::logic_error("makeBackbone: model.backbone has no architecture");
}

std::vector<std::pair<std::string, torch::Tensor>> exchangeTensors(BackboneImpl& backbone) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& m : backbone.named_modules()) {
    const std::string prefix = m.key().empty() ? "" : m.key() + ".";
    for (const auto& p : m.value()->named_parameters(/*recurse=*/false))
      out.emplace_back(backbone.exchangeName(prefix + p.key()), p.value());
    for (const auto& b : m.value()->named_buffers(/*recurse=*/false))
      out.emplace_back(backbone.exchangeName(prefix + b.key()), b.value());
  }
  return out;
}

std::string modelSignature(torch::nn::Module& model) {
  std::string s;
  for (const auto& item : model.named_parameters()) {
    s += item.key() + ":";
    for (auto d : item.value().sizes()) s += std::to_string(d) + "x";
    s += ";";
  }
  for (const auto& item : model.named_buffers()) {
    s += item.key() + ":";
    for (auto d : item.value().sizes()) s += std::to_string(d) + "x";
    s += ";";
  }
  return s;
}

}  // namespace studio
