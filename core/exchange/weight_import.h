#pragma once
// Starting an encoder from weights made elsewhere: another run of the studio, or ResNet
// weights in a safetensors file named as torchvision or timm name them. Tensors are
// matched by name and shape; the names may carry a prefix ("module.", "backbone.",
// "encoder.", "model.backbone.", ...), found by which prefix makes the most names fit; the
// classifier (fc.*) and anything outside the encoder (projection heads, optimiser state)
// are ignored and listed. The ResNets use torchvision's names; the ConvNet's exchange names
// are conv1/bn1/conv2/bn2/conv3/bn3 (its checkpoint names net.N are accepted too). An RGB
// stem loaded into a grayscale encoder (or the reverse) is adapted: the first convolution
// is summed over the colour channels (or spread evenly over them), as timm does.
// No torch types here: the GUI includes this header.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/experiment/config.h"

namespace studio {

class BackboneImpl;

struct ShapeMismatch {
  std::string name;  // the encoder's (exchange) name
  std::vector<int64_t> file_shape, model_shape;
};

// What a weights file gave an encoder.
struct WeightMatchReport {
  std::string source;       // the file read
  std::string format;       // "safetensors" | "studio checkpoint"
  std::string prefix;       // stripped from the file's names, "" when none
  std::vector<std::string> matched;     // encoder tensors filled, by exchange name
  std::vector<std::string> adapted;     // of those, the ones changed to fit ("conv1.weight: ...")
  std::vector<std::string> missing;     // encoder tensors the file lacks (batch-norm step counters excepted)
  std::vector<std::string> unexpected;  // file tensors under the prefix that fit no encoder tensor
  std::vector<ShapeMismatch> shape_mismatches;
  std::vector<std::string> ignored;     // the classifier and what lies outside the encoder
  int64_t encoder_tensors = 0;          // tensors the encoder has
  bool strict = true;

  bool clean() const { return missing.empty() && unexpected.empty() && shape_mismatches.empty(); }
  nlohmann::json toJson() const;
  // "62 of 62 encoder tensors matched; 0 missing, 0 unexpected, 0 shape mismatches; 2 ignored (fc.*)".
  std::string summary() const;
  // The summary, then the names under each heading (at most max_names each), the parts
  // joined by separator (a newline for a listing, "; " for a one-line message).
  std::string describe(size_t max_names = 8, const std::string& separator = "\n  ") const;
};

// The file init_from names: a run folder gives its checkpoints/last.pt; a .pt or
// .safetensors file is itself. BadInput naming the path when it is none of these.
std::string resolveWeightsSource(const std::string& path);

// Matches the file against the encoder and, when accepted, copies the weights in. Throws
// BadInput when nothing in the file fits the encoder (strict or not), and, when strict, on
// any missing, unexpected or mis-shaped tensor: the message names the file and lists them.
WeightMatchReport loadEncoderWeights(BackboneImpl& backbone, const std::string& source, bool strict);

// The same match without loading, for the encoder an experiment would build for images of
// this many channels and this side (what the GUI shows before a run starts). When strict,
// a refusal comes back as the exception loadEncoderWeights would throw.
WeightMatchReport inspectInitWeights(const ExperimentConfig& config, int64_t in_channels, int64_t image_size);
// The same for the experiment's dataset, loaded to learn its channels and image side (a
// client that has not loaded it yet).
WeightMatchReport inspectInitWeights(const ExperimentConfig& config);

}  // namespace studio
