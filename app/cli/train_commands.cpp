// train, resume, match-weights and keys: pretraining, the weights it starts from and the
// experiment keys --set can change.
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
#include "core/experiment/config_schema.h"
#include "core/methods/methods.h"
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
    studio::checkMethodConfig(config.method, config.augment);
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

namespace {

const char* typeWord(studio::KeyType t) {
  switch (t) {
    case studio::KeyType::Integer: return "integer";
    case studio::KeyType::Number: return "number";
    case studio::KeyType::Boolean: return "boolean";
    case studio::KeyType::Text: return "text";
    case studio::KeyType::Choice: return "choice";
    case studio::KeyType::NumberList: return "number list";
    case studio::KeyType::IntegerList: return "integer list";
  }
  return "?";
}

// What a key accepts, as the config reader's messages say it.
std::string allowedText(const studio::ConfigKey& k) {
  using studio::formatNumber;
  switch (k.type) {
    case studio::KeyType::Integer:
    case studio::KeyType::Number: return formatNumber(k.min) + " to " + formatNumber(k.max);
    case studio::KeyType::Boolean: return "true or false";
    case studio::KeyType::Text: return "text";
    case studio::KeyType::Choice: {
      std::string words;
      for (const auto& w : k.values) words += (words.empty() ? "" : " | ") + w;
      return words;
    }
    case studio::KeyType::NumberList:
    case studio::KeyType::IntegerList:
      return std::to_string(k.min_length) + " to " + std::to_string(k.max_length) + " of " + formatNumber(k.min) +
             " to " + formatNumber(k.max);
  }
  return "?";
}

}  // namespace

// The experiment's keys from the schema: what --set and the config file accept.
int cmdKeys(const Args& a) {
  if (a.positional.size() > 1) studio::throwBadInput("keys takes at most one key prefix (see --help)");
  const std::string prefix = a.positional.empty() ? std::string() : a.positional.front();
  std::vector<std::string> method_names;
  for (const auto& spec : studio::methodSpecs()) method_names.push_back(spec.name);
  int shown = 0;
  auto show = [&](const std::string& path, const char* type, const Json& fallback, const std::string& allowed,
                  const std::string& help, const Json& range, const std::vector<std::string>& values) {
    if (path.compare(0, prefix.size(), prefix) != 0) return;
    ++shown;
    if (a.json) {
      Json j = {{"key", path}, {"type", type}, {"default", fallback}, {"help", help}};
      if (!range.is_null()) {
        j["min"] = range[0];
        j["max"] = range[1];
      }
      if (!values.empty()) j["values"] = values;
      printJson(j);
    } else {
      std::printf("%-30s %s (default %s)\n%30s   %s\n", path.c_str(), allowed.c_str(), fallback.dump().c_str(), "",
                  help.c_str());
    }
  };
  for (const auto& k : studio::configKeys()) {
    const bool ranged =
        k.numeric() || k.type == studio::KeyType::NumberList || k.type == studio::KeyType::IntegerList;
    // The method is an open list that core/methods registers: its names are the values.
    const bool method_name = k.path == "method.name";
    std::string words;
    for (const auto& w : method_names) words += (words.empty() ? "" : " | ") + w;
    show(k.path, method_name ? "choice" : typeWord(k.type), k.defaultValue(), method_name ? words : allowedText(k), k.help,
         ranged ? Json::array({k.min, k.max}) : Json(), method_name ? method_names : k.values);
  }
  // Each method's own settings, declared by the method (core/methods).
  for (const auto& spec : studio::methodSpecs())
    for (const auto& setting : spec.settings)
      show("method." + spec.name + "." + setting.key, setting.integer ? "integer" : "number",
           setting.integer ? Json(static_cast<int64_t>(setting.value)) : Json(setting.value),
           studio::formatNumber(setting.min) + " to " + studio::formatNumber(setting.max),
           spec.title + ": " + setting.help, Json::array({setting.min, setting.max}), {});
  if (shown == 0) studio::throwBadInput("keys: no experiment key starts with \"" + prefix + "\"");
  return kExitOk;
}

}  // namespace studio::cli
