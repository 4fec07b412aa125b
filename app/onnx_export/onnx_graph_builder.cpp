#include "app/onnx_export/onnx_graph_builder.h"

#include <algorithm>
#include <cstring>

#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include "core/base/error.h"

namespace studio {
namespace {

using Json = nlohmann::json;

// LibTorch's BatchNorm default, which every studio model uses.
constexpr float kBatchNormEpsilon = 1e-5f;

std::string shapeText(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

void addInts(onnx::NodeProto* n, const char* name, const std::vector<int64_t>& values) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
}

void addInt(onnx::NodeProto* n, const char* name, int64_t value) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

void addFloat(onnx::NodeProto* n, const char* name, float value) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(value);
}

// A float tensor value [batch, dims...] with a symbolic batch dimension.
void setFloatType(onnx::ValueInfoProto* v, const std::string& name, const std::vector<int64_t>& dims) {
  v->set_name(name);
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  auto* shape = t->mutable_shape();
  shape->add_dim()->set_dim_param("batch");
  for (int64_t d : dims) shape->add_dim()->set_dim_value(d);
}

int64_t intKey(const Json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_number_integer())
    throwBadInput(std::string("architecture: \"") + key + "\" must be an integer");
  return j[key].get<int64_t>();
}

void addMetadata(onnx::ModelProto& m, const std::string& key, const std::string& value) {
  auto* p = m.add_metadata_props();
  p->set_key(key);
  p->set_value(value);
}

}  // namespace

OnnxGraphBuilder::OnnxGraphBuilder(const SafetensorsFile& weights, Json architecture, int64_t opset)
    : weights_(weights), arch_(std::move(architecture)), opset_(opset) {
  if (opset_ < 17) throwBadInput("--opset " + std::to_string(opset_) + ": this exporter writes opset 17 or newer");
}

const SafetensorsEntry& OnnxGraphBuilder::entry(const std::string& name) const {
  const SafetensorsEntry* e = weights_.find(name);
  if (!e) throwBadInput(weights_.source() + ": the tensor \"" + name + "\" the " + arch_.value("backbone", std::string("model")) +
                        " needs is missing");
  return *e;
}

std::string OnnxGraphBuilder::weight(const std::string& name, int64_t expected_dims) {
  const SafetensorsEntry& e = entry(name);
  if (expected_dims >= 0 && static_cast<int64_t>(e.shape.size()) != expected_dims)
    throwBadInput(weights_.source() + ": \"" + name + "\" has shape " + shapeText(e.shape) + ", expected " +
                  std::to_string(expected_dims) + " dimensions");
  if (std::find(initialized_.begin(), initialized_.end(), name) != initialized_.end()) return name;
  auto* t = graph_->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : e.shape) t->add_dims(d);
  const std::vector<float> values = weights_.toFloat32(e);
  t->set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)));
  initialized_.push_back(name);
  return name;
}

std::string OnnxGraphBuilder::fresh(const std::string& hint) { return hint + "_" + std::to_string(counter_++); }

onnx::NodeProto* OnnxGraphBuilder::node(const std::string& op, const std::vector<std::string>& inputs,
                                        const std::string& output) {
  auto* n = graph_->add_node();
  n->set_op_type(op);
  n->set_name(output);
  for (const auto& i : inputs) n->add_input(i);
  n->add_output(output);
  return n;
}

// Square kernels, padding k / 2 on every side, no bias: how core/model/models.cpp builds them.
std::string OnnxGraphBuilder::conv(const std::string& x, const std::string& prefix, int64_t stride) {
  const std::string w = weight(prefix + ".weight", 4);
  const auto& shape = entry(w).shape;
  if (shape[2] != shape[3]) throwBadInput(weights_.source() + ": \"" + w + "\" is not a square kernel " + shapeText(shape));
  const int64_t k = shape[2], pad = k / 2;
  auto* n = node("Conv", {x, w}, fresh(prefix));
  addInts(n, "kernel_shape", {k, k});
  addInts(n, "strides", {stride, stride});
  addInts(n, "pads", {pad, pad, pad, pad});
  addInts(n, "dilations", {1, 1});
  addInt(n, "group", 1);
  return n->output(0);
}

std::string OnnxGraphBuilder::batchNorm(const std::string& x, const std::string& prefix) {
  auto* n = node("BatchNormalization",
                 {x, weight(prefix + ".weight", 1), weight(prefix + ".bias", 1), weight(prefix + ".running_mean", 1),
                  weight(prefix + ".running_var", 1)},
                 fresh(prefix));
  addFloat(n, "epsilon", kBatchNormEpsilon);
  return n->output(0);
}

std::string OnnxGraphBuilder::relu(const std::string& x) { return node("Relu", {x}, fresh("relu"))->output(0); }

std::string OnnxGraphBuilder::maxPool(const std::string& x, int64_t kernel, int64_t stride, int64_t pad) {
  auto* n = node("MaxPool", {x}, fresh("maxpool"));
  addInts(n, "kernel_shape", {kernel, kernel});
  addInts(n, "strides", {stride, stride});
  addInts(n, "pads", {pad, pad, pad, pad});
  return n->output(0);
}

std::string OnnxGraphBuilder::add(const std::string& a, const std::string& b) {
  return node("Add", {a, b}, fresh("add"))->output(0);
}

// torchvision's BasicBlock and Bottleneck (stride on the 3x3 convolution).
std::string OnnxGraphBuilder::resnetBlock(const std::string& x, const std::string& p, bool bottleneck, int64_t stride) {
  std::string out;
  if (bottleneck) {
    out = relu(batchNorm(conv(x, p + ".conv1", 1), p + ".bn1"));
    out = relu(batchNorm(conv(out, p + ".conv2", stride), p + ".bn2"));
    out = batchNorm(conv(out, p + ".conv3", 1), p + ".bn3");
  } else {
    out = relu(batchNorm(conv(x, p + ".conv1", stride), p + ".bn1"));
    out = batchNorm(conv(out, p + ".conv2", 1), p + ".bn2");
  }
  const bool downsample = weights_.find(p + ".downsample.0.weight") != nullptr;
  const std::string identity = downsample ? batchNorm(conv(x, p + ".downsample.0", stride), p + ".downsample.1") : x;
  return relu(add(out, identity));
}

onnx::ModelProto OnnxGraphBuilder::build() {
  model_ = onnx::ModelProto();
  model_.set_ir_version(onnx::IR_VERSION);
  model_.set_producer_name("Contrastive Studio");
  model_.set_producer_version(arch_.value("studio_version", std::string()));
  model_.set_doc_string("Encoder exported by Contrastive Studio: input images normalised as metadata_props says, "
                        "output the pooled features (and the classifier's logits when exported).");
  auto* opset = model_.add_opset_import();
  opset->set_domain("");
  opset->set_version(opset_);
  graph_ = model_.mutable_graph();
  graph_->set_name(arch_.value("backbone", std::string("encoder")));
  initialized_.clear();
  counter_ = 0;

  if (!arch_.contains("input") || !arch_["input"].is_object()) throwBadInput("architecture: no \"input\" section");
  const Json& input = arch_["input"];
  const int64_t channels = intKey(input, "channels"), height = intKey(input, "height"), width = intKey(input, "width");
  const int64_t feature_dim = intKey(arch_, "feature_dim");
  setFloatType(graph_->add_input(), "images", {channels, height, width});

  const std::string backbone = arch_.value("backbone", std::string());
  std::string x = "images";
  if (backbone == "convnet") {
    for (int i = 1; i <= 3; ++i) {
      x = relu(batchNorm(conv(x, "conv" + std::to_string(i), 1), "bn" + std::to_string(i)));
      if (i < 3) x = maxPool(x, 2, 2, 0);
    }
  } else if (backbone == "resnet18" || backbone == "resnet34" || backbone == "resnet50") {
    const bool imagenet = arch_.value("stem", std::string()) == "imagenet";
    const bool bottleneck = arch_.value("block", std::string()) == "bottleneck";
    if (!arch_.contains("blocks") || !arch_["blocks"].is_array() || arch_["blocks"].size() != 4)
      throwBadInput("architecture: \"blocks\" must list the blocks of the 4 stages");
    x = relu(batchNorm(conv(x, "conv1", imagenet ? 2 : 1), "bn1"));
    if (imagenet) x = maxPool(x, 3, 2, 1);
    for (int stage = 0; stage < 4; ++stage) {
      const int64_t blocks = arch_["blocks"][stage].get<int64_t>();
      for (int64_t b = 0; b < blocks; ++b)
        x = resnetBlock(x, "layer" + std::to_string(stage + 1) + "." + std::to_string(b), bottleneck,
                        (b == 0 && stage > 0) ? 2 : 1);
    }
  } else {
    throwBadInput("architecture: unknown backbone \"" + backbone + "\" (expected convnet, resnet18, resnet34 or resnet50)");
  }
  x = node("GlobalAveragePool", {x}, fresh("pool"))->output(0);
  auto* flatten = node("Flatten", {x}, "features");
  addInt(flatten, "axis", 1);
  setFloatType(graph_->add_output(), "features", {feature_dim});

  if (arch_.contains("num_classes")) {
    const int64_t classes = intKey(arch_, "num_classes");
    auto* gemm = node("Gemm", {"features", weight("fc.weight", 2), weight("fc.bias", 1)}, "logits");
    addInt(gemm, "transB", 1);
    setFloatType(graph_->add_output(), "logits", {classes});
  }

  addMetadata(model_, "studio_version", arch_.value("studio_version", std::string()));
  addMetadata(model_, "architecture", arch_.dump());
  addMetadata(model_, "input_name", "images");
  addMetadata(model_, "input_layout", "NCHW");
  addMetadata(model_, "input_size", std::to_string(channels) + "x" + std::to_string(height) + "x" + std::to_string(width));
  addMetadata(model_, "input_scale", "1/255");
  addMetadata(model_, "input_mean", input.value("mean", Json::array()).dump());
  addMetadata(model_, "input_std", input.value("std", Json::array()).dump());
  addMetadata(model_, "input_normalisation", "x = (pixel / 255 - input_mean[c]) / input_std[c], pixels in [0, 255]");
  if (arch_.contains("class_names")) addMetadata(model_, "class_names", arch_["class_names"].dump());
  return model_;
}

void OnnxGraphBuilder::check(const onnx::ModelProto& model, const Json& architecture) {
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    throwBadInput(std::string("the ONNX checker refused the model: ") + e.what());
  }
  onnx::ModelProto inferred = model;
  try {
    onnx::shape_inference::InferShapes(inferred, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(/*check_type=*/true, /*strict_mode=*/1));
  } catch (const std::exception& e) {
    throwBadInput(std::string("ONNX shape inference refused the model: ") + e.what());
  }
  // Every output is [batch, n]: the symbolic batch survives and n is what the architecture says.
  for (const auto& out : inferred.graph().output()) {
    const auto& shape = out.type().tensor_type().shape();
    const int64_t expected = out.name() == "logits" ? architecture.value("num_classes", int64_t(-1))
                                                    : architecture.value("feature_dim", int64_t(-1));
    if (shape.dim_size() != 2 || shape.dim(0).dim_param() != "batch" || shape.dim(1).dim_value() != expected)
      throwBadInput("ONNX shape inference gives output \"" + out.name() + "\" an unexpected shape");
  }
  // An intermediate value whose inferred shape lost the symbolic batch would break dynamic batches.
  for (const auto& v : inferred.graph().value_info()) {
    const auto& shape = v.type().tensor_type().shape();
    if (shape.dim_size() > 0 && shape.dim(0).dim_param() != "batch")
      throwBadInput("ONNX shape inference: \"" + v.name() + "\" does not keep the dynamic batch dimension");
  }
}

}  // namespace studio
