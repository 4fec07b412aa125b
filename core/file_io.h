#pragma once
// Whole-file reads and atomic writes. Torch-free and Qt-free: the ONNX exporter, which must
// not load LibTorch, shares them with the engine.
#include <string>

namespace studio {

// Writes text (any bytes) to path atomically: a temporary file in the same folder, then a
// rename, so readers never see half a file and a crash leaves the old one.
void writeFileAtomically(const std::string& path, const std::string& text);
std::string readTextFile(const std::string& path);  // BadInput naming the file when unreadable

}  // namespace studio
