#pragma once
// Builds the ONNX model of a studio encoder (and classifier) from its exchange-named
// weights (core/base/safetensors.h) and its architecture.json (core/exchange/model_export.h writes both):
// opset 17, a dynamic batch dimension, BatchNormalization in inference mode, the input
// normalisation stated in metadata_props, then checked with ONNX's checker and strict
// shape inference. Links the ONNX library (protobuf) and never LibTorch.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>
#include <onnx/onnx_pb.h>

#include "core/base/safetensors.h"

namespace studio {

class OnnxGraphBuilder {
 public:
  OnnxGraphBuilder(const SafetensorsFile& weights, nlohmann::json architecture, int64_t opset);

  // The whole model; throws studio::Error(BadInput) naming the tensor or key at fault.
  onnx::ModelProto build();

  // check_model and strict shape inference; the inferred output shapes must be [batch, D]
  // (and [batch, classes]). Throws BadInput with the checker's message.
  static void check(const onnx::ModelProto& model, const nlohmann::json& architecture);

 private:
  std::string weight(const std::string& name, int64_t expected_dims);  // adds an initializer once
  std::string conv(const std::string& x, const std::string& prefix, int64_t stride);
  std::string batchNorm(const std::string& x, const std::string& prefix);
  std::string relu(const std::string& x);
  std::string maxPool(const std::string& x, int64_t kernel, int64_t stride, int64_t pad);
  std::string add(const std::string& a, const std::string& b);
  std::string resnetBlock(const std::string& x, const std::string& prefix, bool bottleneck, int64_t stride);
  std::string fresh(const std::string& hint);
  onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& inputs, const std::string& output);
  const SafetensorsEntry& entry(const std::string& name) const;

  const SafetensorsFile& weights_;
  nlohmann::json arch_;
  int64_t opset_;
  onnx::ModelProto model_;
  onnx::GraphProto* graph_ = nullptr;
  std::vector<std::string> initialized_;
  int64_t counter_ = 0;
};

}  // namespace studio
