// run.json, the record each run folder carries about itself. Shared by both run index
// backends (SQLite and folders-only), so it lives apart from either.
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/base/file_io.h"
#include "core/runs/run_index.h"

namespace studio {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr char kRecordFile[] = "run.json";

std::string requireString(const Json& json, const char* key, const std::string& file) {
  const auto it = json.find(key);
  if (it == json.end()) throwBadInput(file + ": missing key '" + key + "' (expected a string)");
  if (!it->is_string()) throwBadInput(file + ": key '" + key + "' must be a string, got " + it->dump());
  return it->get<std::string>();
}

}  // namespace

void createRunsFolder(const std::string& runs_dir) {
  std::error_code ec;
  if (fs::exists(runs_dir, ec) && !fs::is_directory(runs_dir, ec))
    throwBadInput(runs_dir + ": not a folder (expected the runs folder)");
  fs::create_directories(runs_dir, ec);
  if (ec || !fs::is_directory(runs_dir, ec))
    throwFailure(runs_dir + ": cannot create the runs folder (" + (ec ? ec.message() : "unknown error") + ")");
}

void writeRunRecord(const std::string& run_dir, const RunRecord& record) {
  const fs::path file = fs::path(run_dir) / kRecordFile;
  std::error_code ec;
  if (!fs::is_directory(run_dir, ec))
    throwFailure(file.string() + ": cannot write, the run folder " + run_dir + " does not exist");
  Json json = {
      {"id", record.id},
      {"name", record.name},
      {"dataset", record.dataset},
      {"method", record.method},
      {"status", record.status},
      {"started_at", record.started_at},
      {"ended_at", record.ended_at},
      {"best_knn", nullptr},
  };
  // Negative means "none yet"; null says so without a magic number in the file.
  if (record.best_knn >= 0.0 && std::isfinite(record.best_knn)) json["best_knn"] = record.best_knn;
  std::string text;
  try {
    text = json.dump(2) + "\n";
  } catch (const Json::exception& e) {
    throwBadInput(file.string() + ": the run record is not valid UTF-8 (" + e.what() + ")");
  }
  writeFileAtomically(file.string(), text);
}

RunRecord readRunRecord(const std::string& run_dir) {
  const std::string file = (fs::path(run_dir) / kRecordFile).string();
  std::ifstream in(file, std::ios::binary);
  if (!in) throwBadInput(file + ": cannot open (" + std::strerror(errno) + "); expected a run record");
  Json json;
  try {
    json = Json::parse(in);
  } catch (const Json::exception& e) {
    throwBadInput(file + ": not valid JSON (" + e.what() + ")");
  }
  if (!json.is_object()) throwBadInput(file + ": expected a JSON object, got " + std::string(json.type_name()));

  RunRecord record;
  record.id = requireString(json, "id", file);
  if (record.id.empty()) throwBadInput(file + ": key 'id' must not be empty");
  record.name = requireString(json, "name", file);
  record.dataset = requireString(json, "dataset", file);
  record.method = requireString(json, "method", file);
  record.status = requireString(json, "status", file);
  record.started_at = requireString(json, "started_at", file);
  record.ended_at = requireString(json, "ended_at", file);
  const auto knn = json.find("best_knn");
  if (knn == json.end()) throwBadInput(file + ": missing key 'best_knn' (expected a number or null)");
  if (knn->is_null()) {
    record.best_knn = -1.0;
  } else if (knn->is_number()) {
    record.best_knn = knn->get<double>();
  } else {
    throwBadInput(file + ": key 'best_knn' must be a number or null, got " + knn->dump());
  }
  record.path = absoluteFolder(run_dir);
  return record;
}

}  // namespace studio
