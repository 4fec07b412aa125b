#pragma once
// The parsed command line and the small helpers every command group uses: options with
// range checks, the runs folder, JSON output, exit codes and the interrupt flag.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace studio::cli {

using Json = nlohmann::json;

constexpr int kExitOk = 0, kExitFailure = 1, kExitBadInput = 2, kExitInterrupted = 130;

// Set by onSignal. A long command installs onSignal itself (SIGINT; train, resume and finetune
// also SIGTERM) and its progress callback returns !g_interrupted, which stops the engine.
extern std::atomic<bool> g_interrupted;
void onSignal(int);

struct Args {
  std::string command;
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;  // --key value
  std::vector<std::string> sets;               // --set key=value, in order
  bool json = false, gray = false, rebuild = false, no_quality = false, scratch = false, no_augment = false,
       no_probe_init = false;
};

Args parseArgs(int argc, char** argv);

// The value of --key, or fallback when it is not given.
std::string option(const Args& a, const std::string& key, const std::string& fallback = "");
// --key as a number in [lo, hi] (fallback when not given); anything else is bad input.
int64_t intOption(const Args& a, const std::string& key, int64_t fallback, int64_t lo, int64_t hi);
double doubleOption(const Args& a, const std::string& key, double fallback, double lo, double hi);

// Refuses anything but n positional arguments; what says which, in the message.
void needPositional(const Args& a, size_t n, const char* what);
std::string runsDir(const Args& a);  // --runs-dir, or the default runs folder
void printJson(const Json& j);       // one line, invalid UTF-8 replaced

}  // namespace studio::cli
