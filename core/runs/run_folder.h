#pragma once
// A run's folder: config.json, run.json, metrics.jsonl, checkpoints/, embeddings. The
// folder is the truth about a run; the run index only mirrors it.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace studio {

class RunFolder {
 public:
  // A new folder <runs_dir>/<UTC time>-<name>; fails if it exists.
  static RunFolder create(const std::string& runs_dir, const std::string& name);
  // An existing run, by folder path or by id inside runs_dir. BadInput when not found.
  static RunFolder open(const std::string& runs_dir, const std::string& id_or_path);

  const std::string& path() const { return path_; }
  std::string id() const;
  std::string runsDir() const;
  std::string configPath() const { return path_ + "/config.json"; }
  std::string metricsPath() const { return path_ + "/metrics.jsonl"; }
  std::string checkpointPath() const { return path_ + "/checkpoints/last.pt"; }
  std::string embeddingsPath() const { return path_ + "/embeddings.npy"; }
  std::string embeddingLabelsPath() const { return path_ + "/embedding_labels.npy"; }
  std::string initReportPath() const { return path_ + "/init_weights.json"; }  // model.init_from's match report
  // Supervised fine-tuning (core/eval/supervised.h): the classifier and its report.
  std::string finetuneDir() const { return path_ + "/finetune"; }
  std::string classifierPath() const { return path_ + "/finetune/classifier.safetensors"; }
  std::string finetuneReportPath() const { return path_ + "/finetune/finetune.json"; }
  bool hasCheckpoint() const;

  // One JSON object per line, flushed at once so a killed run keeps every finished step.
  void appendMetrics(const nlohmann::json& record) const;
  // On resume: drop records of steps after the checkpoint (they will be redone), and a
  // torn last line left by a kill.
  void truncateMetricsAfter(int64_t step) const;

 private:
  explicit RunFolder(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// $STUDIO_RUNS_DIR, else $XDG_DATA_HOME/contrastive-studio/runs, else
// ~/.local/share/contrastive-studio/runs.
std::string defaultRunsDir();
std::string utcNowIso8601();

}  // namespace studio
