#include "core/crash_report.h"

#include <execinfo.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <initializer_list>

namespace studio {
namespace {

const char* g_program = "program";

void writeText(const char* text) {
  // write(2) only: the handler runs in a broken process and may use async-signal-safe calls.
  const ssize_t ignored = ::write(STDERR_FILENO, text, ::strlen(text));
  (void)ignored;
}

const char* signalName(int signal) {
  switch (signal) {
    case SIGSEGV: return "SIGSEGV (invalid memory access)";
    case SIGBUS: return "SIGBUS (bus error)";
    case SIGFPE: return "SIGFPE (arithmetic exception)";
    case SIGILL: return "SIGILL (illegal instruction: built for a newer CPU?)";
    case SIGABRT: return "SIGABRT (aborted)";
    default: return "?";
  }
}

void onFatalSignal(int signal) {
  writeText(g_program);
  writeText(": fatal signal ");
  writeText(signalName(signal));
  writeText("; backtrace (addr2line -e BINARY -f -C ADDRESS names a frame):\n");
  void* frames[64];
  const int n = ::backtrace(frames, 64);
  ::backtrace_symbols_fd(frames, n, STDERR_FILENO);
  // Default action again (SA_RESETHAND did it) and re-raise: the exit status stays the signal's.
  ::raise(signal);
}

}  // namespace

void installCrashReport(const char* program) {
  static bool installed = false;
  if (installed) return;
  installed = true;
  g_program = program;
  // backtrace() loads libgcc on its first call, which must not happen inside the handler.
  void* warm[1];
  ::backtrace(warm, 1);
  struct sigaction action {};
  action.sa_handler = onFatalSignal;
  action.sa_flags = SA_RESETHAND | SA_NODEFER;
  ::sigemptyset(&action.sa_mask);
  for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) ::sigaction(s, &action, nullptr);
}

}  // namespace studio
