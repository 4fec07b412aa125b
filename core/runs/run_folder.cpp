#include "core/runs/run_folder.h"

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "core/experiment/config.h"
#include "core/base/error.h"

namespace fs = std::filesystem;

namespace studio {
namespace {

std::string safeName(const std::string& name) {
  std::string out;
  for (char c : name) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '-';
  if (out.empty()) out = "run";
  return out.substr(0, 48);
}

std::string utcStamp(const char* format) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

}  // namespace

std::string utcNowIso8601() { return utcStamp("%Y-%m-%dT%H:%M:%SZ"); }

std::string defaultRunsDir() {
  if (const char* d = std::getenv("STUDIO_RUNS_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) return std::string(x) + "/contrastive-studio/runs";
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.local/share/contrastive-studio/runs";
}

RunFolder RunFolder::create(const std::string& runs_dir, const std::string& name) {
  std::error_code ec;
  fs::create_directories(runs_dir, ec);
  if (ec) throwFailure(runs_dir + ": cannot create the runs folder (" + ec.message() + ")");
  const std::string base = fs::absolute(runs_dir).lexically_normal().string() + "/" + utcStamp("%Y%m%d-%H%M%S") + "-" + safeName(name);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const std::string path = attempt == 0 ? base : base + "-" + std::to_string(attempt + 1);
    if (fs::create_directory(path, ec)) {
      fs::create_directories(path + "/checkpoints");
      return RunFolder(path);
    }
    if (ec) throwFailure(path + ": cannot create the run folder (" + ec.message() + ")");
  }
  throwFailure(base + ": cannot find a free run folder name");
}

RunFolder RunFolder::open(const std::string& runs_dir, const std::string& id_or_path) {
  for (const auto& candidate : {id_or_path, runs_dir + "/" + id_or_path}) {
    if (fs::is_directory(candidate) && fs::exists(candidate + "/config.json")) {
      fs::path path = fs::absolute(candidate).lexically_normal();
      if (!path.has_filename()) path = path.parent_path();  // "runs/id/": the id is the last name
      return RunFolder(path.string());
    }
  }
  throwBadInput("run \"" + id_or_path + "\" not found (neither a run folder nor a run id in " + runs_dir + ")");
}

std::string RunFolder::id() const { return fs::path(path_).filename().string(); }
std::string RunFolder::runsDir() const { return fs::path(path_).parent_path().string(); }
bool RunFolder::hasCheckpoint() const { return fs::exists(checkpointPath()); }

void RunFolder::appendMetrics(const nlohmann::json& record) const {
  std::ofstream out(metricsPath(), std::ios::app);
  if (!out) throwFailure(metricsPath() + ": cannot be appended to");
  out << record.dump() << '\n';
  out.flush();
}

void RunFolder::truncateMetricsAfter(int64_t step) const {
  std::ifstream in(metricsPath());
  if (!in) return;
  std::string kept, line;
  while (std::getline(in, line)) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error&) {
      continue;  // a line torn by a kill
    }
    if (j.contains("step") && j["step"].is_number_integer() && j["step"].get<int64_t>() > step) continue;
    kept += line + "\n";
  }
  writeFileAtomically(metricsPath(), kept);
}

}  // namespace studio
