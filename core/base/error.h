#pragma once
// Errors that cross core's boundary. Every message names the file, key or value at fault
// and what was expected; clients map the kind to an exit code or a dialog.
#include <stdexcept>
#include <string>

namespace studio {

enum class ErrorKind {
  BadInput,   // the user's file, folder, config or argument is wrong: fix the input
  Failure,    // the engine could not finish (I/O error, out of memory, internal fault)
  Cancelled,  // the user asked to stop
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

[[noreturn]] inline void throwBadInput(const std::string& message) {
  throw Error(ErrorKind::BadInput, message);
}
[[noreturn]] inline void throwFailure(const std::string& message) {
  throw Error(ErrorKind::Failure, message);
}

}  // namespace studio
