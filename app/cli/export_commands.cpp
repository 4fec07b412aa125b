// export: a run's embeddings (npy, TensorBoard projector) or its model (safetensors, ONNX).
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "app/cli/cli_args.h"
#include "app/cli/cli_tensors.h"
#include "app/cli/commands.h"
#include "core/base/error.h"
#include "core/base/npy.h"
#include "core/data/dataset.h"
#include "core/exchange/embedding_export.h"
#include "core/exchange/model_export.h"
#include "core/experiment/config.h"
#include "core/eval/run_embeddings.h"
#include "core/runs/run_folder.h"

namespace studio::cli {
namespace {

// A model (safetensors or ONNX) with architecture.json and a model card.
int cmdExportModel(const Args& a, const studio::RunFolder& folder, const std::string& format) {
  studio::ExportOptions o;
  o.format = format;
  o.model = option(a, "--model", "encoder");
  o.licence = option(a, "--licence");
  o.out_dir = option(a, "--out");
  const auto r = studio::exportModel(folder, o);
  if (a.json) {
    printJson({{"run", folder.id()}, {"format", format}, {"model", o.model}, {"path", r.model_path}, {"files", r.files}});
  } else {
    std::printf("Exported the %s of %s as %s:\n", o.model.c_str(), folder.id().c_str(), format.c_str());
    for (const auto& f : r.files) std::printf("  %s\n", f.c_str());
  }
  return kExitOk;
}

}  // namespace

int cmdExport(const Args& a) {
  needPositional(a, 1, "a run id or folder");
  const auto folder = studio::RunFolder::open(runsDir(a), a.positional[0]);
  const std::string format = option(a, "--format");
  if (format == "safetensors" || format == "onnx") return cmdExportModel(a, folder, format);
  if (format != "npy" && format != "tsv")
    studio::throwBadInput("--format = \"" + format + "\": expected npy, tsv, safetensors or onnx");
  const std::string out = option(a, "--out", folder.path() + "/export-" + format);
  std::filesystem::create_directories(out);
  // By default the held-out embeddings written at the end of training; with --bank/--queries
  // the run's encoder embeds that many training and held-out images anew (0 = all of them).
  torch::Tensor features, labels, split, sprite_images;
  if (a.options.count("--bank") || a.options.count("--queries")) {
    const auto e = studio::embedRun(folder, intOption(a, "--bank", 0, 0, int64_t(1) << 40),
                                    intOption(a, "--queries", 0, 0, int64_t(1) << 40), option(a, "--device", "auto"));
    features = torch::cat({e.bank_features, e.query_features});
    labels = torch::cat({e.bank_labels, e.query_labels});
    sprite_images = torch::cat({e.bank_images, e.query_images});
    split = torch::cat({torch::zeros({e.bank_features.size(0)}, torch::kLong), torch::ones({e.query_features.size(0)}, torch::kLong)});
  } else {
    std::tie(features, labels) = readRunEmbeddings(folder);
  }
  std::vector<std::string> files;
  if (format == "npy") {
    const auto f = features.contiguous();
    const auto l = labels.contiguous();
    studio::writeNpy(out + "/embeddings.npy", "<f4", {f.size(0), f.size(1)}, f.data_ptr<float>());
    studio::writeNpy(out + "/labels.npy", "<i8", {l.size(0)}, l.data_ptr<int64_t>());
    files = {out + "/embeddings.npy", out + "/labels.npy"};
    if (split.defined()) {
      studio::writeNpy(out + "/split.npy", "<i8", {split.size(0)}, split.data_ptr<int64_t>());
      files.push_back(out + "/split.npy");
    }
  } else {
    // The sprite shows the very images embedded: re-embedded bank + queries, or the first N
    // held-out images, which is what embeddings.npy holds (the kNN monitor's queries).
    const auto config = studio::loadExperimentConfig(folder.configPath());
    const auto data = studio::loadDataset(config.dataset, config.train.seed);
    torch::Tensor images = sprite_images;
    if (!images.defined() && data.eval.size() >= features.size(0)) images = data.eval.images.slice(0, 0, features.size(0));
    files = studio::exportProjector(out, features, labels, data.train.class_names, folder.id(), images);
  }
  if (a.json) {
    printJson({{"run", folder.id()}, {"format", format}, {"files", files}});
  } else {
    std::printf("Exported %lld embeddings of %lld dimensions:\n", static_cast<long long>(features.size(0)),
                static_cast<long long>(features.size(1)));
    for (const auto& f : files) std::printf("  %s\n", f.c_str());
  }
  return kExitOk;
}

}  // namespace studio::cli
