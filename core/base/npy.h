#pragma once
// NumPy .npy files (format 1.0), the exchange format for embeddings and labels.
// Torch-free: works on raw buffers so any client can use it.
#include <cstdint>
#include <string>
#include <vector>

namespace studio {

struct NpyArray {
  std::string dtype;             // numpy descr: "<f4", "<i8", "<i4", "|u1"
  std::vector<int64_t> shape;    // C order
  std::vector<uint8_t> bytes;    // raw little-endian data, product(shape)*itemsize bytes
};

// Writes atomically. dtype one of "<f4", "<f8", "<i8", "<i4", "|u1".
void writeNpy(const std::string& path, const std::string& dtype, const std::vector<int64_t>& shape,
              const void* data);
// Throws studio::Error(BadInput) naming the file when the magic, header or size is wrong
// or the array is Fortran-ordered.
NpyArray readNpy(const std::string& path);

}  // namespace studio
