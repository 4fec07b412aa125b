#include "core/file_io.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "core/error.h"

namespace studio {

std::string readTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throwBadInput(path + ": cannot be read (" + std::string(std::strerror(errno)) + ")");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void writeFileAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throwFailure(path + ": cannot be written (" + std::string(std::strerror(errno)) + ")");
    out << text;
    out.flush();
    if (!out) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      throwFailure(path + ": write failed (" + std::string(std::strerror(errno)) + ")");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throwFailure(path + ": cannot be replaced (" + ec.message() + ")");
  }
}

}  // namespace studio
