#include "core/exchange/model_card.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "core/base/file_io.h"
#include "core/base/metrics_record.h"
#include "core/runs/run_index.h"
#include "core/version.h"

namespace fs = std::filesystem;

namespace studio {
namespace {

using Json = nlohmann::json;

// A JSON file of the run folder, or null when absent or unreadable (a card lists what exists).
Json readJsonFile(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return nullptr;
  try {
    return Json::parse(readTextFile(path));
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::string percent(const Json& v) {
  if (!v.is_number()) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100.0 * v.get<double>());
  return buf;
}

std::string text(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// Markdown table cells must not break the table.
std::string cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

}  // namespace

Json buildModelCard(const ModelCardInput& in) {
  const ExperimentConfig& c = in.config;
  const Json config = c.toJson();
  Json card;
  card["studio_version"] = STUDIO_VERSION;
  card["created_at"] = utcNowIso8601();
  card["model"] = {{"kind", in.model_kind},
                   {"format", in.format},
                   {"files", in.files},
                   {"architecture", in.architecture},
                   {"checkpoint_step", in.step}};
  card["run"] = {{"id", in.run ? in.run->id() : ""}, {"name", c.name}};

  std::string dataset_name = wordOf(c.dataset.kind);
  if (!c.dataset.path.empty()) dataset_name += " (" + c.dataset.path + ")";
  card["dataset"] = {{"name", dataset_name},
                     {"kind", wordOf(c.dataset.kind)},
                     {"path", c.dataset.path},
                     {"train_limit", c.dataset.train_limit},
                     {"training_images", in.train_images},
                     {"held_out_images", in.held_out_images},
                     {"classes", in.class_names},
                     {"content_hash", in.content_hash},
                     {"content_hash_of", "FNV-1a 64 over the training then held-out images (uint8 NCHW) and labels "
                                         "(int32 little-endian), as loaded for training"},
                     {"licence", in.licence.empty() ? Json(nullptr) : Json(in.licence)}};

  Json training = {{"method", config["method"]},
                   {"augmentations", config["augment"]},
                   {"model", config["model"]},
                   {"optimizer", config["optim"]},
                   {"schedule", config["train"]}};
  if (in.run) {
    const Json init = readJsonFile(in.run->initReportPath());
    if (!init.is_null()) training["initialised_from"] = {{"source", init.value("source", "")}, {"summary", init.value("summary", "")}};
  }
  card["training"] = training;

  Json evaluation = Json::object();
  if (in.run) {
    for (const MetricsRecord& r : readMetricsFile(in.run->metricsPath())) {
      if (r.kind != RecordKind::End || !r.has("final_knn_top1")) continue;
      evaluation["knn"] = {{"best_top1", r.value("best_knn_top1")},
                           {"final_top1", r.value("final_knn_top1")},
                           {"raw_pixel_top1", r.value("raw_pixel_knn_top1")},
                           {"k", c.monitor.k},
                           {"temperature", c.monitor.temperature},
                           {"bank_size", c.monitor.bank_size},
                           {"query_size", c.monitor.query_size}};
    }
    const Json study = readJsonFile(in.run->path() + "/label_efficiency.json");
    if (study.is_object() && study.contains("cells") && study["cells"].is_array()) {
      // core/eval/study_result.h: one cell per arm and label fraction; the card keeps the summary.
      Json rows = Json::array();
      for (const auto& c : study["cells"])
        rows.push_back({{"arm", c.value("arm", Json(nullptr))},
                        {"label_fraction", c.value("label_fraction", Json(nullptr))},
                        {"labeled_images", c.value("labeled_images", Json(nullptr))},
                        {"top1_mean", c.value("top1_mean", Json(nullptr))},
                        {"top1_std", c.value("top1_std", Json(nullptr))}});
      evaluation["label_efficiency"] = rows;
    } else if (study.is_object() && study.contains("results")) {
      evaluation["label_efficiency"] = study["results"];
    }
    const Json finetune = readJsonFile(in.run->finetuneReportPath());
    if (finetune.is_object()) evaluation["finetune"] = finetune;
  }
  card["evaluation"] = evaluation;
  return card;
}

std::string modelCardMarkdown(const Json& card) {
  std::ostringstream md;
  const Json& model = card["model"];
  const Json& arch = model["architecture"];
  const Json& input = arch.value("input", Json::object());
  const Json& data = card["dataset"];
  const Json& training = card["training"];
  md << "# Model card: " << text(card["run"]["name"]) << " (" << text(model["kind"]) << ")\n\n";
  md << "Exported by Contrastive Studio " << text(card["studio_version"]) << " on " << text(card["created_at"])
     << " from run `" << text(card["run"]["id"]) << "` (checkpoint step " << text(model["checkpoint_step"]) << ").\n\n";

  md << "## Model\n\n";
  md << "- Architecture: " << text(arch.value("backbone", Json("?")));
  if (arch.contains("stem")) md << ", " << text(arch["stem"]) << " stem";
  if (arch.contains("width")) md << ", width " << text(arch["width"]);
  md << "; " << text(arch.value("feature_dim", Json("?"))) << "-dimensional features";
  if (arch.contains("num_classes")) md << " and a linear classifier over " << text(arch["num_classes"]) << " classes";
  md << "\n- Format: " << text(model["format"]) << "; files:";
  for (const auto& f : model["files"]) md << " `" << text(f) << "`";
  md << "\n";
  if (!input.empty()) {
    md << "- Input: float32 NCHW, " << text(input.value("channels", Json("?"))) << " x " << text(input.value("height", Json("?")))
       << " x " << text(input.value("width", Json("?"))) << "; pixel / 255, then (x - mean) / std with mean "
       << input.value("mean", Json::array()).dump() << " and std " << input.value("std", Json::array()).dump() << "\n";
  }
  md << "\n## Training data\n\n";
  md << "- Dataset: " << text(data["name"]) << "\n";
  md << "- Size: " << text(data["training_images"]) << " training images, " << text(data["held_out_images"])
     << " held out";
  if (data["classes"].is_array() && !data["classes"].empty()) md << "; " << data["classes"].size() << " classes";
  md << "\n- Content hash: `" << text(data["content_hash"]) << "` (" << text(data["content_hash_of"]) << ")\n";
  md << "- Licence: " << (data["licence"].is_string() ? text(data["licence"]) : std::string("not stated")) << "\n";

  md << "\n## Training\n\n";
  {
    // The method and its settings: its block in the config ("method": {"name": "byol", "byol":
    // {...}}), or the temperature beside the name in configs from before methods had blocks.
    const Json& method = training["method"];
    const std::string name = method.value("name", std::string("?"));
    std::string settings;
    const Json block = method.contains(name) && method[name].is_object() ? method[name]
                       : method.contains("temperature")                  ? Json{{"temperature", method["temperature"]}}
                                                                         : Json::object();
    for (auto it = block.begin(); it != block.end(); ++it)
      settings += (settings.empty() ? "" : ", ") + it.key() + " " + text(it.value());
    md << "- Method: " << name << (settings.empty() ? "" : " (" + settings + ")") << "\n";
  }
  if (training.contains("initialised_from"))
    md << "- Started from: `" << text(training["initialised_from"]["source"]) << "` ("
       << text(training["initialised_from"]["summary"]) << ")\n";
  const Json& opt = training["optimizer"];
  const Json& sched = training["schedule"];
  md << "- Optimiser: " << text(opt.value("name", Json("?"))) << ", lr " << text(opt.value("lr", Json("?")))
     << ", weight decay " << text(opt.value("weight_decay", Json("?"))) << ", warm-up "
     << text(opt.value("warmup_epochs", Json("?"))) << " epochs, cosine schedule";
  if (opt.value("backbone_lr_mult", 1.0) != 1.0) md << ", encoder lr x " << text(opt["backbone_lr_mult"]);
  if (opt.value("freeze_stages", 0) > 0) md << ", first " << text(opt["freeze_stages"]) << " stages frozen";
  md << "\n- Schedule: " << text(sched.value("epochs", Json("?"))) << " epochs, batch " << text(sched.value("batch_size", Json("?")))
     << ", seed " << text(sched.value("seed", Json("?"))) << "\n";
  md << "- Augmentations:\n\n| setting | value |\n|---|---|\n";
  for (auto it = training["augmentations"].begin(); it != training["augmentations"].end(); ++it)
    md << "| " << cell(it.key()) << " | " << cell(it.value().dump()) << " |\n";

  md << "\n## Evaluation\n\n";
  const Json& ev = card["evaluation"];
  bool any = false;
  if (ev.contains("knn")) {
    any = true;
    md << "- kNN top-1 on held-out images (k = " << text(ev["knn"]["k"]) << "): " << percent(ev["knn"]["final_top1"])
       << " (best " << percent(ev["knn"]["best_top1"]) << "); raw pixels: " << percent(ev["knn"]["raw_pixel_top1"]) << "\n";
  }
  if (ev.contains("label_efficiency") && ev["label_efficiency"].is_array()) {
    any = true;
    md << "\nLabel efficiency (" << ev["label_efficiency"].size() << " rows):\n\n| arm | labels | images | top-1 (mean) |\n|---|---|---|---|\n";
    for (const auto& row : ev["label_efficiency"]) {
      Json top = row.value("top1_mean", Json(nullptr));
      if (!top.is_number()) top = row.value("linear_probe_top1_mean", Json(nullptr));
      if (!top.is_number()) top = row.value("supervised_top1_mean", Json(nullptr));
      md << "| " << cell(text(row.value("arm", row.value("encoder", Json("?"))))) << " | " << percent(row.value("label_fraction", Json(nullptr)))
         << " | " << text(row.value("labeled_images", Json("?"))) << " | " << percent(top) << " |\n";
    }
  }
  if (ev.contains("finetune")) {
    any = true;
    const Json& f = ev["finetune"];
    md << "\n- Supervised fine-tuning with " << percent(f.value("label_fraction", Json(nullptr))) << " of the labels: test top-1 "
       << percent(f.value("test_top1", Json(nullptr))) << " (validation " << percent(f.value("best_validation_top1", Json(nullptr)))
       << ")\n";
  }
  if (!any) md << "No evaluation results were found in the run folder.\n";
  return md.str();
}

}  // namespace studio
