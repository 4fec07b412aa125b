#pragma once
// Whole-file reads, atomic writes (the one place files are replaced) and folder spelling. Torch-free and
// Qt-free: the ONNX exporter, which must not load LibTorch, shares them with the engine.
#include <functional>
#include <iosfwd>
#include <string>

namespace studio {

// Replaces path whole or not at all. The bytes go to a temporary file beside it, named for
// this process and this call (concurrent writers of one path never share one), which is
// flushed to disk (fsync) and renamed over path; the folder is then synced so that the
// rename survives a power cut too. Readers see the old file or the new one, never half of
// one. On failure (fill throws, the disk is full, the folder is missing) path is untouched,
// the temporary file is removed and studio::Error(Failure) names path and the reason;
// an exception from fill propagates as it is.
void writeFileAtomically(const std::string& path, const std::function<void(std::ostream&)>& fill);
void writeFileAtomically(const std::string& path, const std::string& bytes);

std::string readTextFile(const std::string& path);  // BadInput naming the file when unreadable

// A folder spelled one way however the caller wrote it: absolute, normalised, no trailing
// separator (the run store compares folders by this string).
std::string absoluteFolder(const std::string& dir);

}  // namespace studio
