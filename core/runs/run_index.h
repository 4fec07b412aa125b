#pragma once
// The index of all runs: one row per run folder, for listing and searching. The folders
// are the truth; the index can always be rebuilt from them. SQLite in WAL mode, so the
// CLI and the GUI can write and read it at once. Torch-free.
#include <optional>
#include <string>
#include <vector>

namespace studio {

struct RunRecord {
  std::string id;          // folder name, unique
  std::string name;        // the experiment's name
  std::string dataset;     // dataset name or path
  std::string method;      // "simclr", ...
  std::string status;      // "running", "paused", "finished", "cancelled", "failed", "interrupted"
  std::string started_at;  // ISO 8601 UTC, e.g. 2026-11-25T10:00:00Z
  std::string ended_at;    // empty while running
  double best_knn = -1.0;  // best kNN top-1 in [0,1], -1 when none yet
  std::string path;        // absolute path of the run folder
};

// Creates the runs folder when missing (both index backends start here). BadInput when the
// path is a file, Failure when it cannot be created.
void createRunsFolder(const std::string& runs_dir);

class RunIndex {
 public:
  // Opens (creating if needed) <runs_dir>/runs.sqlite. Throws studio::Error on failure.
  explicit RunIndex(const std::string& runs_dir);
  ~RunIndex();
  RunIndex(const RunIndex&) = delete;
  RunIndex& operator=(const RunIndex&) = delete;

  void upsert(const RunRecord& record);
  std::optional<RunRecord> find(const std::string& id) const;
  std::vector<RunRecord> list() const;  // newest first (started_at descending)
  void remove(const std::string& id);

  // Re-reads every run folder under runs_dir (each has a run.json, see below) and makes
  // the index agree with them: rows for missing folders are dropped. Returns the row count.
  int rebuildFromFolders();

  const std::string& runsDir() const { return runs_dir_; }

 private:
  std::string runs_dir_;
  struct Impl;
  Impl* impl_;
};

// run.json in a run folder holds the RunRecord fields (without path) as JSON; these two
// read and write it (atomically). readRunRecord throws studio::Error(BadInput) naming
// the file if it is missing or malformed.
void writeRunRecord(const std::string& run_dir, const RunRecord& record);
RunRecord readRunRecord(const std::string& run_dir);

}  // namespace studio
