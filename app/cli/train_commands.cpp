// train, resume and match-weights: pretraining and the weights it starts from.
#include <csignal>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "app/cli/cli_args.h"
#include "app/cli/commands.h"
#include "app/cli/progress_printer.h"
#include "core/base/error.h"
#include "core/base/text_format.h"
#include "core/exchange/weight_import.h"
#include "core/experiment/config.h"
#include "core/runs/run_folder.h"
#include "core/train/trainer.h"

namespace studio::cli {
namespace {

int reportOutcome(const Args& a, const studio::TrainOutcome& o) {
  if (a.json) {
    Json j = {{"kind", "result"},       {"status", o.status},         {"run_dir", o.run_dir},
              {"steps", o.steps},       {"best_knn_top1", o.best_knn}, {"final_knn_top1", o.final_knn},
              {"raw_pixel_knn_top1", o.raw_pixel_knn}, {"seconds", o.seconds}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("%s after %lld steps in %s. Run folder: %s\n", o.status == "finished" ? "Finished" : "Stopped",
                static_cast<long long>(o.steps), studio::formatDuration(o.seconds).c_str(), o.run_dir.c_str());
    if (o.final_knn >= 0)
      std::printf("kNN top-1: %.2f%% (best %.2f%%); raw pixels: %.2f%%\n", 100 * o.final_knn, 100 * o.best_knn,
                  100 * o.raw_pixel_knn);
    if (o.status != "finished")
      std::printf("Resume with: contrastive-cli resume %s\n", o.run_dir.c_str());
  }
  return o.status == "finished" ? kExitOk : kExitInterrupted;
}

int runTrainer(const Args& a, studio::Trainer& trainer) {
  studio::cli::ProgressPrinter printer(studio::cli::ProgressPrinter::detect(a.json));
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  const auto outcome = trainer.run([&](const studio::MetricsRecord& r) {
    printer.onRecord(r);
    return !g_interrupted.load();
  });
  printer.finish();
  return reportOutcome(a, outcome);
}

// The experiment of --config FILE with the --set overrides (and --device) applied.
studio::ExperimentConfig configFromArgs(const Args& a) {
  const std::string path = option(a, "--config");
  if (path.empty()) studio::throwBadInput(a.command + " needs --config FILE (presets are in resources/presets/)");
  Json json;
  try {
    json = Json::parse(studio::readTextFile(path));
  } catch (const Json::parse_error& e) {
    studio::throwBadInput(path + ": not valid JSON (" + std::string(e.what()) + ")");
  }
  for (const auto& s : a.sets) studio::applyConfigOverride(json, s);
  if (a.options.count("--device")) json["train"]["device"] = option(a, "--device");
  studio::ExperimentConfig config;
  try {
    config = studio::ExperimentConfig::fromJson(json);
  } catch (const Error& e) {
    throw Error(e.kind(), path + ": " + e.what());
  }
  return config;
}

}  // namespace

int cmdTrain(const Args& a) {
  needPositional(a, 0, "no positional arguments");
  studio::Trainer trainer(configFromArgs(a), runsDir(a));
  return runTrainer(a, trainer);
}

// What model.init_from would give the experiment's encoder, without training.
int cmdMatchWeights(const Args& a) {
  needPositional(a, 1, "a run folder, checkpoint or .safetensors file");
  studio::ExperimentConfig config = configFromArgs(a);
  config.model.init_from = a.positional[0];
  const studio::WeightMatchReport report = studio::inspectInitWeights(config);
  if (a.json) printJson(report.toJson());
  else std::printf("%s\n%s\n", report.source.c_str(), report.describe().c_str());
  return kExitOk;
}

int cmdResume(const Args& a) {
  needPositional(a, 1, "a run id or folder");
  studio::Trainer trainer(studio::RunFolder::open(runsDir(a), a.positional[0]));
  return runTrainer(a, trainer);
}

}  // namespace studio::cli
