#include "core/base/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <system_error>

#include "core/base/error.h"

namespace studio {
namespace fs = std::filesystem;

namespace {

// ".NAME.tmp-PID-N-RANDOM" beside the target: one filesystem, so the rename is atomic; the
// counter separates threads of one process, the pid processes, the random part a reused pid.
fs::path temporaryPathFor(const fs::path& target) {
  static std::atomic<unsigned> counter{0};
  static const unsigned salt = std::random_device{}();
  std::ostringstream name;
  name << "." << target.filename().string() << ".tmp-" << ::getpid() << "-" << counter++ << "-" << std::hex << salt;
  return target.parent_path() / name.str();
}

// fsync through a descriptor of its own (the stream's is not reachable); 0 or errno.
int syncToDisk(const fs::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return errno;
  const int result = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return result;
}

std::string reason(int error) { return std::strerror(error); }

}  // namespace

void writeFileAtomically(const std::string& path, const std::function<void(std::ostream&)>& fill) {
  const fs::path target(path);
  const fs::path temp = temporaryPathFor(target);
  auto discard = [&] {
    std::error_code ignored;
    fs::remove(temp, ignored);
  };
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) throwFailure(path + ": cannot be written (" + reason(errno) + ")");
    try {
      fill(out);
    } catch (...) {
      out.close();
      discard();
      throw;
    }
    out.close();
    if (!out) {
      const int error = errno;
      discard();
      throwFailure(path + ": writing failed (" + (error ? reason(error) : std::string("stream error")) + ")");
    }
  }
  if (const int error = syncToDisk(temp, O_RDONLY)) {
    discard();
    throwFailure(path + ": cannot be flushed to disk (" + reason(error) + ")");
  }
  std::error_code ec;
  fs::rename(temp, target, ec);
  if (ec) {
    discard();
    throwFailure(path + ": cannot be replaced (" + ec.message() + ")");
  }
  // The new name is durable once the folder's entry is; some filesystems refuse to sync a
  // folder (EINVAL), which leaves the rename as durable as they make it.
  const fs::path folder = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  syncToDisk(folder, O_RDONLY | O_DIRECTORY);
}

void writeFileAtomically(const std::string& path, const std::string& bytes) {
  writeFileAtomically(path, [&](std::ostream& out) { out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });
}

std::string absoluteFolder(const std::string& dir) {
  std::error_code ec;
  fs::path p = fs::absolute(fs::path(dir), ec);
  if (ec) p = fs::path(dir);
  p = p.lexically_normal();
  if (!p.has_filename() && p.has_relative_path()) p = p.parent_path();
  return p.string();
}

std::string readTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throwBadInput(path + ": cannot be read (" + std::string(std::strerror(errno)) + ")");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace studio
