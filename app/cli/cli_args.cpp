#include "app/cli/cli_args.h"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "core/base/error.h"
#include "core/runs/run_folder.h"

namespace studio::cli {

std::atomic<bool> g_interrupted{false};
void onSignal(int) { g_interrupted.store(true); }

Args parseArgs(int argc, char** argv) {
  Args a;
  static const std::vector<std::string> kValued = {
      "--config", "--runs-dir", "--out",   "--size",       "--fit",        "--k",         "--bank",
      "--queries", "--device",  "--labels", "--seeds", "--perplexity", "--iterations", "--image", "--threshold", "--format",
      "--input", "--labels-file", "--rows", "--method", "--neighbours", "--threads", "--seed", "--layouts", "--arms", "--classifiers", "--max-pairs",
      "--model", "--licence", "--epochs", "--patience", "--batch", "--lr", "--backbone-lr-mult", "--freeze-stages",
      "--supervised-epochs", "--epoch-samples"};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      a.json = true;
    } else if (arg == "--gray") {
      a.gray = true;
    } else if (arg == "--rebuild") {
      a.rebuild = true;
    } else if (arg == "--no-quality") {
      a.no_quality = true;
    } else if (arg == "--scratch") {
      a.scratch = true;
    } else if (arg == "--no-augment") {
      a.no_augment = true;
    } else if (arg == "--no-probe-init") {
      a.no_probe_init = true;
    } else if (arg == "--set") {
      if (i + 1 >= argc) studio::throwBadInput("--set needs key=value");
      a.sets.push_back(argv[++i]);
    } else if (std::find(kValued.begin(), kValued.end(), arg) != kValued.end()) {
      if (i + 1 >= argc) studio::throwBadInput(arg + " needs a value");
      a.options[arg] = argv[++i];
    } else if (arg.rfind("--", 0) == 0) {
      studio::throwBadInput("unknown option " + arg + " (see --help)");
    } else if (a.command.empty()) {
      a.command = arg;
    } else {
      a.positional.push_back(arg);
    }
  }
  return a;
}

std::string option(const Args& a, const std::string& key, const std::string& fallback) {
  auto it = a.options.find(key);
  return it == a.options.end() ? fallback : it->second;
}

int64_t intOption(const Args& a, const std::string& key, int64_t fallback, int64_t lo, int64_t hi) {
  const std::string v = option(a, key);
  if (v.empty()) return fallback;
  size_t used = 0;
  long long x = 0;
  try {
    x = std::stoll(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v.size() || x < lo || x > hi)
    studio::throwBadInput(key + " = \"" + v + "\": expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return x;
}

double doubleOption(const Args& a, const std::string& key, double fallback, double lo, double hi) {
  const std::string v = option(a, key);
  if (v.empty()) return fallback;
  size_t used = 0;
  double x = 0;
  try {
    x = std::stod(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v.size() || !(x >= lo && x <= hi))
    studio::throwBadInput(key + " = \"" + v + "\": expected a number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return x;
}

void needPositional(const Args& a, size_t n, const char* what) {
  if (a.positional.size() != n) studio::throwBadInput(a.command + " expects " + what + " (see --help)");
}

std::string runsDir(const Args& a) { return option(a, "--runs-dir", studio::defaultRunsDir()); }

void printJson(const Json& j) { std::printf("%s\n", j.dump(-1, ' ', false, Json::error_handler_t::replace).c_str()); }

}  // namespace studio::cli
