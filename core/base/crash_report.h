#pragma once
// A last word when a program dies of a fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL,
// SIGABRT): the program's name, the signal and a raw backtrace on stderr, then the default
// action, so the exit status still says which signal it was. Without it a crash in a
// child process (the benchmark, a CLI run from a script) leaves nothing to go on.
namespace studio {

// Installs the handlers once; program names the binary in the message (kept, not copied).
void installCrashReport(const char* program);

}  // namespace studio
