#pragma once
// PNG encoding for images core writes itself (the Embedding Projector's sprite, plots):
// 8-bit grey, grey + alpha, RGB or RGBA, no interlacing. The image data is deflated with
// zlib when the build has it, and otherwise stored in uncompressed deflate blocks, which every
// PNG reader accepts; either way the file is a valid PNG. Torch-free.
#include <cstdint>
#include <string>
#include <vector>

namespace studio {

// pixels: height rows of width * channels bytes, channels 1 (grey), 2 (grey + alpha), 3 (RGB)
// or 4 (RGBA). Throws BadInput for empty or oversized images and other channel counts.
// deflate = false stores the data uncompressed even when zlib is there (what a build without
// zlib always does).
std::vector<uint8_t> encodePng(const uint8_t* pixels, int64_t width, int64_t height, int64_t channels,
                               bool deflate = true);

// encodePng written atomically to path.
void writePng(const std::string& path, const uint8_t* pixels, int64_t width, int64_t height, int64_t channels);

// The CRC-32 (ISO 3309, as PNG chunks and gzip use) of data; exposed for the tests.
uint32_t crc32Of(const uint8_t* data, size_t size, uint32_t crc = 0);

}  // namespace studio
