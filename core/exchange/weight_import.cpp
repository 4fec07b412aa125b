#include "core/exchange/weight_import.h"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <unordered_map>

#include "core/data/dataset.h"
#include "core/base/error.h"
#include "core/model/models.h"
#include "core/exchange/safetensors_torch.h"

namespace fs = std::filesystem;

namespace studio {
namespace {

std::string shapeText(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool isZip(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in.gcount() == 4 && magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4;
}

// Parameters and buffers of a module archive (Module::save's layout: tensors, then one
// nested archive per child), flattened to dotted names.
void flattenArchive(torch::serialize::InputArchive& archive, const std::string& prefix, NamedTensors& out) {
  for (const auto& key : archive.keys()) {
    torch::Tensor t;
    if (archive.try_read(key, t)) {
      out.emplace_back(prefix + key, t);
      continue;
    }
    torch::serialize::InputArchive child;
    if (archive.try_read(key, child)) flattenArchive(child, prefix + key + ".", out);
  }
}

NamedTensors readCheckpointTensors(const std::string& path) {
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
  } catch (const c10::Error&) {
    throwBadInput(path + ": not a Contrastive Studio checkpoint (a PyTorch file saved with torch.save cannot be "
                         "read safely: save its state_dict as safetensors instead, with "
                         "safetensors.torch.save_file(model.state_dict(), \"weights.safetensors\"))");
  }
  torch::serialize::InputArchive model;
  if (!archive.try_read("model", model)) throwBadInput(path + ": not a Contrastive Studio checkpoint (it holds no model)");
  NamedTensors out;
  flattenArchive(model, "", out);
  return out;
}

bool isStepCounter(const std::string& name) { return endsWith(name, ".num_batches_tracked"); }

struct Target {
  std::string exchange;  // the name reported
  torch::Tensor tensor;  // the encoder's parameter or buffer
  bool filled = false;
};

// The conv1 weight of an RGB stem summed over its colour channels fits a grayscale stem
// (a gray image x has the same response as RGB (x, x, x)); the reverse spreads it evenly.
torch::Tensor adaptStem(const torch::Tensor& from, const torch::Tensor& to, std::string& how) {
  if (from.dim() != 4 || to.dim() != 4 || from.size(0) != to.size(0) || from.size(2) != to.size(2) ||
      from.size(3) != to.size(3))
    return {};
  if (from.size(1) == 3 && to.size(1) == 1) {
    how = "summed over 3 colour channels for 1-channel images";
    return from.sum(1, true);
  }
  if (from.size(1) == 1 && to.size(1) == 3) {
    how = "spread over 3 colour channels (divided by 3)";
    return from.repeat({1, 3, 1, 1}) / 3.0;
  }
  return {};
}

std::string architectureName(BackboneImpl& backbone) { return backbone.architecture()["backbone"].get<std::string>(); }

WeightMatchReport matchWeights(BackboneImpl& backbone, const std::string& path, bool strict, bool apply) {
  WeightMatchReport report;
  report.strict = strict;
  report.source = resolveWeightsSource(path);
  NamedTensors file;
  const bool checkpoint = !endsWith(report.source, ".safetensors") && isZip(report.source);
  if (checkpoint) {
    report.format = "studio checkpoint";
    file = readCheckpointTensors(report.source);
  } else {
    report.format = "safetensors";
    file = readSafetensorsTensors(report.source);
  }

  // The encoder's tensors under their exchange names, reachable by internal names too.
  std::vector<Target> targets;
  std::unordered_map<std::string, size_t> alias;
  auto addTarget = [&](const std::string& name, const torch::Tensor& t) {
    const std::string exchange = backbone.exchangeName(name);
    alias[exchange] = targets.size();
    alias[name] = targets.size();
    targets.push_back({exchange, t, false});
  };
  for (const auto& p : backbone.named_parameters()) addTarget(p.key(), p.value());
  for (const auto& b : backbone.named_buffers()) addTarget(b.key(), b.value());
  report.encoder_tensors = static_cast<int64_t>(targets.size());

  // The prefix under which most of the file's names are encoder names.
  std::map<std::string, int64_t> votes;
  for (const auto& [name, t] : file) {
    std::set<std::string> prefixes;
    for (size_t p = 0;;) {
      if (alias.count(name.substr(p))) prefixes.insert(name.substr(0, p));
      const size_t dot = name.find('.', p);
      if (dot == std::string::npos) break;
      p = dot + 1;
    }
    for (const auto& prefix : prefixes) ++votes[prefix];
  }
  if (votes.empty())
    throwBadInput(report.source + ": no tensor in the file fits the " + architectureName(backbone) +
                  " encoder (its names, e.g. \"" + (file.empty() ? std::string("none") : file.front().first) +
                  "\", match none of the encoder's, e.g. \"" + targets.front().exchange + "\")");
  int64_t best_votes = -1;
  for (const auto& [prefix, n] : votes) {
    if (n > best_votes || (n == best_votes && prefix.size() < report.prefix.size())) {
      best_votes = n;
      report.prefix = prefix;
    }
  }

  std::vector<std::pair<size_t, torch::Tensor>> assignments;
  for (const auto& [name, t] : file) {
    if (name.rfind(report.prefix, 0) != 0) {
      report.ignored.push_back(name);
      continue;
    }
    const std::string rest = name.substr(report.prefix.size());
    if (rest.rfind("fc.", 0) == 0) {  // the classifier of torchvision's and timm's ResNets
      report.ignored.push_back(name);
      continue;
    }
    auto it = alias.find(rest);
    if (it == alias.end() || targets[it->second].filled) {
      report.unexpected.push_back(name);
      continue;
    }
    Target& target = targets[it->second];
    torch::Tensor value = t;
    if (value.sizes() != target.tensor.sizes()) {
      std::string how;
      if (target.exchange == "conv1.weight") value = adaptStem(t, target.tensor, how);
      if (!value.defined()) {
        report.shape_mismatches.push_back({target.exchange, t.sizes().vec(), target.tensor.sizes().vec()});
        target.filled = true;  // reported once, not also as missing
        continue;
      }
      report.adapted.push_back(target.exchange + ": " + how);
    }
    if (value.is_floating_point() != target.tensor.is_floating_point()) {
      report.shape_mismatches.push_back({target.exchange, t.sizes().vec(), target.tensor.sizes().vec()});
      target.filled = true;
      continue;
    }
    target.filled = true;
    report.matched.push_back(target.exchange);
    assignments.emplace_back(it->second, value);
  }
  for (const auto& target : targets)
    if (!target.filled && !isStepCounter(target.exchange)) report.missing.push_back(target.exchange);

  if (report.matched.empty())
    throwBadInput(report.source + ": no tensor in the file fits the " + architectureName(backbone) + " encoder: " +
                  report.describe(8, "; "));
  if (strict && !report.clean())
    throwBadInput(report.source + ": the weights do not fit the " + architectureName(backbone) +
                  " encoder (set model.init_strict to false to load the " + std::to_string(report.matched.size()) +
                  " tensors that fit): " + report.describe(8, "; "));
  if (apply) {
    torch::NoGradGuard no_grad;
    for (const auto& [index, value] : assignments) {
      auto& dst = targets[index].tensor;
      dst.copy_(value.to(dst.device(), dst.scalar_type()));
    }
  }
  return report;
}

}  // namespace

nlohmann::json WeightMatchReport::toJson() const {
  nlohmann::json mismatches = nlohmann::json::array();
  for (const auto& m : shape_mismatches)
    mismatches.push_back({{"name", m.name}, {"file_shape", m.file_shape}, {"model_shape", m.model_shape}});
  return {{"source", source},     {"format", format},          {"prefix", prefix},
          {"strict", strict},     {"encoder_tensors", encoder_tensors}, {"matched", matched},
          {"adapted", adapted},   {"missing", missing},        {"unexpected", unexpected},
          {"shape_mismatches", mismatches}, {"ignored", ignored}, {"summary", summary()}};
}

std::string WeightMatchReport::summary() const {
  std::string s = std::to_string(matched.size()) + " of " + std::to_string(encoder_tensors) +
                  " encoder tensors matched; " + std::to_string(missing.size()) + " missing, " +
                  std::to_string(unexpected.size()) + " unexpected, " + std::to_string(shape_mismatches.size()) +
                  " shape mismatch" + (shape_mismatches.size() == 1 ? "" : "es");
  if (!adapted.empty()) s += ", " + std::to_string(adapted.size()) + " adapted";
  if (!ignored.empty()) s += "; " + std::to_string(ignored.size()) + " ignored (classifier or outside the encoder)";
  return s;
}

std::string WeightMatchReport::describe(size_t max_names, const std::string& separator) const {
  std::string s = summary();
  if (!prefix.empty()) s += separator + "prefix stripped from the file's names: \"" + prefix + "\"";
  auto list = [&](const char* heading, const std::vector<std::string>& names) {
    if (names.empty()) return;
    s += separator + heading + ":";
    for (size_t i = 0; i < std::min(max_names, names.size()); ++i) s += " " + names[i];
    if (names.size() > max_names) s += " ... (" + std::to_string(names.size() - max_names) + " more)";
  };
  list("missing", missing);
  list("unexpected", unexpected);
  if (!shape_mismatches.empty()) {
    s += separator + "shape mismatches:";
    for (size_t i = 0; i < std::min(max_names, shape_mismatches.size()); ++i)
      s += " " + shape_mismatches[i].name + " (file " + shapeText(shape_mismatches[i].file_shape) + ", encoder " +
           shapeText(shape_mismatches[i].model_shape) + ")";
    if (shape_mismatches.size() > max_names) s += " ... (" + std::to_string(shape_mismatches.size() - max_names) + " more)";
  }
  list("adapted", adapted);
  list("ignored", ignored);
  return s;
}

std::string resolveWeightsSource(const std::string& path) {
  if (path.empty()) throwBadInput("model.init_from: no file given");
  std::error_code ec;
  const fs::path p(path);
  if (fs::is_directory(p, ec)) {
    const fs::path checkpoint = p / "checkpoints" / "last.pt";
    if (fs::is_regular_file(checkpoint, ec)) return checkpoint.string();
    if (fs::is_regular_file(p / "run.json", ec) || fs::is_regular_file(p / "config.json", ec))
      throwBadInput(path + ": the run has no checkpoint (checkpoints/last.pt) to start from");
    throwBadInput(path + ": a folder that is not a run (expected a run folder, a .pt checkpoint or a .safetensors file)");
  }
  if (!fs::exists(p, ec)) throwBadInput(path + ": no such file or folder");
  if (!fs::is_regular_file(p, ec)) throwBadInput(path + ": not a file");
  return path;
}

WeightMatchReport loadEncoderWeights(BackboneImpl& backbone, const std::string& source, bool strict) {
  try {
    return matchWeights(backbone, source, strict, /*apply=*/true);
  } catch (const c10::Error& e) {
    throwBadInput(source + ": the weights could not be loaded (" + std::string(e.what_without_backtrace()) + ")");
  }
}

WeightMatchReport inspectInitWeights(const ExperimentConfig& config, int64_t in_channels, int64_t image_size) {
  if (config.model.init_from.empty()) throwBadInput("model.init_from: no file given");
  try {
    auto backbone = makeBackbone(config.model, in_channels, image_size);
    return matchWeights(*backbone, config.model.init_from, config.model.init_strict, /*apply=*/false);
  } catch (const c10::Error& e) {
    throwBadInput(config.model.init_from + ": the weights could not be read (" + std::string(e.what_without_backtrace()) + ")");
  }
}

WeightMatchReport inspectInitWeights(const ExperimentConfig& config) {
  if (config.model.init_from.empty()) throwBadInput("model.init_from: no file given");
  const DatasetSplits data = loadDataset(config.dataset, config.train.seed);
  const int64_t side = config.augment.out_size > 0 ? config.augment.out_size : data.train.height();
  return inspectInitWeights(config, data.train.channels(), side);
}

}  // namespace studio
