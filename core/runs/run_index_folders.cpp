// The run index without SQLite (builds where it is missing, e.g. a bare GPU machine). The run
// folders are the truth anyway, so every query reads them: list() and find() scan the
// run.json files under runs_dir, upsert() writes one, and remove() deletes one. Removing
// a run from the index therefore deletes that folder's run.json (the rest of the folder,
// checkpoints and logs, stays), because nothing else could make find() forget it.
#include <algorithm>
#include <filesystem>

#include "core/base/error.h"
#include "core/runs/run_index.h"

namespace studio {
namespace {

namespace fs = std::filesystem;

constexpr char kRecordFile[] = "run.json";

// Every folder under runs_dir with a readable run.json; malformed ones are not runs.
std::vector<RunRecord> scanFolders(const std::string& runsDir) {
  std::vector<RunRecord> records;
  std::error_code ec;
  for (fs::directory_iterator it(runsDir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code entryEc;
    if (!it->is_directory(entryEc) || !fs::is_regular_file(it->path() / kRecordFile, entryEc)) continue;
    try {
      records.push_back(readRunRecord(it->path().string()));
    } catch (const Error&) {
      // Skipped, as the SQLite index drops such folders when it rebuilds.
    }
  }
  if (ec) throwFailure(runsDir + ": cannot list the runs folder (" + ec.message() + ")");
  return records;
}

// An id names a folder directly under runs_dir, so it must not climb out of it.
bool isPlainFolderName(const std::string& id) {
  return !id.empty() && id != "." && id != ".." && id.find('/') == std::string::npos &&
         id.find('\\') == std::string::npos && fs::path(id).filename().string() == id;
}

// The run with this id: <runs_dir>/<id> when it holds it (the usual case, no scan),
// otherwise whichever folder's run.json says so.
std::optional<RunRecord> locate(const std::string& runsDir, const std::string& id) {
  if (isPlainFolderName(id)) {
    const fs::path direct = fs::path(runsDir) / id;
    std::error_code ec;
    if (fs::is_regular_file(direct / kRecordFile, ec)) {
      try {
        RunRecord record = readRunRecord(direct.string());
        if (record.id == id) return record;
      } catch (const Error&) {
        // Fall through to the scan, which skips it too.
      }
    }
  }
  for (auto& record : scanFolders(runsDir))
    if (record.id == id) return std::move(record);
  return std::nullopt;
}

}  // namespace

// Nothing to hold: each call reads the folders afresh, so other processes' writes show.
struct RunIndex::Impl {};

RunIndex::RunIndex(const std::string& runs_dir) : runs_dir_(runs_dir), impl_(nullptr) {
  createRunsFolder(runs_dir);
  impl_ = new Impl;
}

RunIndex::~RunIndex() { delete impl_; }

void RunIndex::upsert(const RunRecord& record) {
  if (!isPlainFolderName(record.id))
    throwBadInput(runs_dir_ + ": run id '" + record.id + "' is not a plain folder name");
  // Update the folder that already holds this run; a new run gets <runs_dir>/<id>.
  const auto existing = locate(runs_dir_, record.id);
  const fs::path folder = existing ? fs::path(existing->path) : fs::path(runs_dir_) / record.id;
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) throwFailure(folder.string() + ": cannot create the run folder (" + ec.message() + ")");
  writeRunRecord(folder.string(), record);
}

std::optional<RunRecord> RunIndex::find(const std::string& id) const { return locate(runs_dir_, id); }

std::vector<RunRecord> RunIndex::list() const {
  std::vector<RunRecord> records = scanFolders(runs_dir_);
  std::sort(records.begin(), records.end(), [](const RunRecord& a, const RunRecord& b) {
    if (a.started_at != b.started_at) return a.started_at > b.started_at;
    return a.id > b.id;
  });
  return records;
}

void RunIndex::remove(const std::string& id) {
  const auto existing = locate(runs_dir_, id);
  if (!existing) return;
  const fs::path file = fs::path(existing->path) / kRecordFile;
  std::error_code ec;
  fs::remove(file, ec);
  if (ec) throwFailure(file.string() + ": cannot delete (" + ec.message() + ")");
}

int RunIndex::rebuildFromFolders() { return static_cast<int>(scanFolders(runs_dir_).size()); }

}  // namespace studio
