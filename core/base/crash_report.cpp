#include "core/base/crash_report.h"

#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdint>
#include <initializer_list>

namespace studio {
namespace {

const char* g_program = "program";

// Everything below runs inside the handler of a broken process: write(2), open/read(2) and
// static buffers only, no allocation and no stdio.
void writeText(const char* text) {
  const ssize_t ignored = ::write(STDERR_FILENO, text, ::strlen(text));
  (void)ignored;
}

void writeHex(uintptr_t value) {
  char text[2 + 2 * sizeof value + 1];
  int n = 0;
  text[n++] = '0';
  text[n++] = 'x';
  bool started = false;
  for (int shift = 8 * int(sizeof value) - 4; shift >= 0; shift -= 4) {
    const unsigned digit = unsigned(value >> shift) & 0xFu;
    if (digit == 0 && !started && shift > 0) continue;
    started = true;
    text[n++] = "0123456789abcdef"[digit];
  }
  text[n] = '\0';
  writeText(text);
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

// The executable mappings of the process, read from /proc/self/maps in the handler (libraries
// opened after start-up, CUDA's among them, are there too).
struct CodeRange {
  uintptr_t begin, end;
};
CodeRange g_code[4096];
int g_code_count = 0;
uintptr_t g_stack_end = 0;  // end of the mapping that holds the interrupted stack pointer
char g_maps[1 << 20];

uintptr_t parseHex(const char*& p) {
  uintptr_t v = 0;
  for (;; ++p) {
    const char c = *p;
    if (c >= '0' && c <= '9') v = v * 16 + uintptr_t(c - '0');
    else if (c >= 'a' && c <= 'f') v = v * 16 + uintptr_t(c - 'a' + 10);
    else return v;
  }
}

void readMappings(uintptr_t stack_pointer) {
  g_code_count = 0;
  g_stack_end = stack_pointer;
  const int fd = ::open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  size_t size = 0;
  for (ssize_t n; size + 1 < sizeof g_maps && (n = ::read(fd, g_maps + size, sizeof g_maps - 1 - size)) > 0;) size += size_t(n);
  ::close(fd);
  g_maps[size] = '\0';
  // Lines read "begin-end perms offset dev inode path"; the third perms letter is 'x'.
  for (const char* p = g_maps; *p && g_code_count < int(sizeof g_code / sizeof g_code[0]);) {
    const uintptr_t begin = parseHex(p);
    if (*p == '-') ++p;
    const uintptr_t end = parseHex(p);
    if (*p == ' ' && p[1] && p[2] && p[3] == 'x') g_code[g_code_count++] = {begin, end};
    if (stack_pointer >= begin && stack_pointer < end) g_stack_end = end;
    while (*p && *p != '\n') ++p;
    if (*p) ++p;
  }
}

bool isCode(uintptr_t address) {
  for (int i = 0; i < g_code_count; ++i)
    if (address >= g_code[i].begin && address < g_code[i].end) return true;
  return false;
}

void writeSymbol(uintptr_t address) {
  void* frame[1] = {reinterpret_cast<void*>(address)};
  ::backtrace_symbols_fd(frame, 1, STDERR_FILENO);
}

void onFatalSignal(int signal, siginfo_t* info, void* context) {
  writeText(g_program);
  writeText(": fatal signal ");
  writeText(signalName(signal));
  if (signal == SIGSEGV || signal == SIGBUS || signal == SIGFPE || signal == SIGILL) {
    writeText(" at address ");
    writeHex(reinterpret_cast<uintptr_t>(info->si_addr));
  }
  writeText("; backtrace (addr2line -e BINARY -f -C ADDRESS names a frame):\n");
  void* frames[64];
  const int n = ::backtrace(frames, 64);
  ::backtrace_symbols_fd(frames, n, STDERR_FILENO);
#if defined(__x86_64__)
  // The unwinder stops at a frame it has no unwind tables for (a call through a null pointer,
  // JIT-compiled kernels): the interrupted instruction and the stack words that point into
  // loaded code (return addresses among them) still say where the process was.
  if (context) {
    const auto* uc = static_cast<const ucontext_t*>(context);
    const uintptr_t pc = uintptr_t(uc->uc_mcontext.gregs[REG_RIP]);
    const auto* sp = reinterpret_cast<const uintptr_t*>(uc->uc_mcontext.gregs[REG_RSP]);
    readMappings(reinterpret_cast<uintptr_t>(sp));
    writeText("interrupted at ");
    writeHex(pc);
    writeText(isCode(pc) ? ":\n" : " (not in any loaded code)\n");
    if (isCode(pc)) writeSymbol(pc);
    writeText("stack words pointing into code, nearest first:\n");
    int shown = 0;
    const auto* stack_end = reinterpret_cast<const uintptr_t*>(g_stack_end);
    for (int i = 0; i < 2048 && sp + i < stack_end && shown < 32; ++i) {
      if (!isCode(sp[i])) continue;
      writeSymbol(sp[i]);
      ++shown;
    }
  }
#else
  (void)context;
#endif
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
  // Its own stack, so that the main thread's stack overflowing is reported too.
  static char alternate_stack[1 << 16];
  stack_t ss{};
  ss.ss_sp = alternate_stack;
  ss.ss_size = sizeof alternate_stack;
  ::sigaltstack(&ss, nullptr);
  struct sigaction action {};
  action.sa_sigaction = onFatalSignal;
  action.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER | SA_ONSTACK;
  ::sigemptyset(&action.sa_mask);
  for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) ::sigaction(s, &action, nullptr);
}

}  // namespace studio
