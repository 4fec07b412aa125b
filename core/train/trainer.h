#pragma once
// The training engine's plain C++ API. A Trainer runs one experiment in one run folder:
// it reports one MetricsRecord per step (and per evaluation) to a callback whose answer
// can stop the run, honours pause and cancel requests from any thread within one step,
// writes checkpoints atomically and resumes from the last one on the same trajectory.
// LibTorch's process-wide settings (threads, seeds, TF32) are set for a run and put back
// after it. No torch types in this header: the GUI includes it. A finished run is measured
// by core/eval/run_evaluation.h.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/experiment/config.h"
#include "core/eval/embedding_map.h"
#include "core/base/metrics_record.h"
#include "core/runs/run_folder.h"

namespace studio {

// Return false to stop the run (it checkpoints and ends as "cancelled").
using MetricsCallback = std::function<bool(const MetricsRecord&)>;
// Receives the map set's embeddings at each evaluation (monitor.map_size > 0), on the
// training thread; copy what you keep.
using SnapshotCallback = std::function<void(const EmbeddingSnapshot&)>;

struct TrainOutcome {
  std::string status;          // finished | cancelled
  int64_t steps = 0;
  double best_knn = -1;        // best kNN top-1 seen by the monitor, -1 if none
  double final_knn = -1;
  double raw_pixel_knn = -1;   // the same kNN on raw pixels
  double seconds = 0;
  std::string run_dir;
};

class Trainer {
 public:
  // A new run in a fresh folder under runs_dir.
  Trainer(ExperimentConfig config, const std::string& runs_dir);
  // Continue the run in this folder from its last checkpoint (or from the start when it
  // has none), with the config it saved.
  explicit Trainer(RunFolder folder);
  ~Trainer();

  // Runs to the end, to a stop, or throws studio::Error (the run is then marked failed).
  TrainOutcome run(const MetricsCallback& on_metrics);
  // Set before run().
  void setSnapshotCallback(SnapshotCallback on_snapshot) { on_snapshot_ = std::move(on_snapshot); }
  // Time each phase of every step (the device synchronised between phases, which costs a
  // little speed on a GPU): step records then carry augment_ms (the wait for the views),
  // augment_host_work_ms (the host's work on them, maybe on the prefetch thread),
  // forward_ms, loss_ms, backward_ms and optimizer_ms. For benchmarks; may be switched
  // from the callback.
  void setStepProfiling(bool on) { profiling_.store(on); }
  // Benchmarks only: augment the first step's batch once and train on those views at
  // every step (the cost of a step without augmentation). Set before run().
  void setBenchmarkFixedViews(bool on) { fixed_views_ = on; }

  // Thread-safe controls, honoured within one step.
  void requestPause();
  void requestResume();
  void requestCancel();
  bool isPaused() const { return pause_.load(); }

  const RunFolder& folder() const { return folder_; }
  const ExperimentConfig& config() const { return config_; }

 private:
  void waitWhilePaused();

  ExperimentConfig config_;
  RunFolder folder_;
  bool resuming_;
  SnapshotCallback on_snapshot_;
  std::atomic<bool> profiling_{false};
  bool fixed_views_ = false;
  std::atomic<bool> pause_{false};
  std::atomic<bool> cancel_{false};
  std::mutex pause_mutex_;
  std::condition_variable pause_cv_;
};

}  // namespace studio
