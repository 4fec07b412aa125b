#include "core/base/png_writer.h"

#include <algorithm>
#include <array>
#include <string>

#ifdef STUDIO_HAVE_ZLIB
#include <zlib.h>
#endif

#include "core/base/error.h"
#include "core/base/file_io.h"

namespace studio {

namespace {

// PNG limits a side to 2^31 - 1; the sprite and plots stay far below this cap, which keeps the
// filtered data (one filter byte per row) in memory comfortably.
constexpr int64_t kMaxSide = 1 << 15;
constexpr size_t kStoredBlock = 65535;  // the largest stored deflate block

const std::array<uint32_t, 256>& crcTable() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  return table;
}

uint32_t adler32Of(const std::vector<uint8_t>& data) {
  uint32_t a = 1, b = 0;
  for (const uint8_t byte : data) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return (b << 16) | a;
}

void putUint32(std::vector<uint8_t>& out, uint32_t v) {
  out.push_back(static_cast<uint8_t>(v >> 24));
  out.push_back(static_cast<uint8_t>(v >> 16));
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

void putChunk(std::vector<uint8_t>& out, const char type[4], const std::vector<uint8_t>& data) {
  putUint32(out, static_cast<uint32_t>(data.size()));
  const size_t start = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  putUint32(out, crc32Of(out.data() + start, out.size() - start));
}

// A zlib stream of `raw` in stored (uncompressed) deflate blocks.
std::vector<uint8_t> storedZlib(const std::vector<uint8_t>& raw) {
  std::vector<uint8_t> out = {0x78, 0x01};  // deflate, 32K window, no preset dictionary, check bits
  size_t offset = 0;
  do {
    const size_t length = std::min(kStoredBlock, raw.size() - offset);
    const bool last = offset + length == raw.size();
    out.push_back(last ? 1 : 0);  // BFINAL, BTYPE = 00 (stored)
    out.push_back(static_cast<uint8_t>(length & 0xFF));
    out.push_back(static_cast<uint8_t>(length >> 8));
    out.push_back(static_cast<uint8_t>(~length & 0xFF));
    out.push_back(static_cast<uint8_t>((~length >> 8) & 0xFF));
    out.insert(out.end(), raw.begin() + static_cast<std::ptrdiff_t>(offset),
               raw.begin() + static_cast<std::ptrdiff_t>(offset + length));
    offset += length;
  } while (offset < raw.size());
  putUint32(out, adler32Of(raw));
  return out;
}

std::vector<uint8_t> zlibStream(const std::vector<uint8_t>& raw, bool deflate) {
#ifdef STUDIO_HAVE_ZLIB
  if (!deflate) return storedZlib(raw);
  uLongf size = compressBound(static_cast<uLong>(raw.size()));
  std::vector<uint8_t> out(size);
  if (compress2(out.data(), &size, raw.data(), static_cast<uLong>(raw.size()), 6) == Z_OK) {
    out.resize(size);
    return out;
  }
#else
  (void)deflate;
#endif
  return storedZlib(raw);
}

}  // namespace

uint32_t crc32Of(const uint8_t* data, size_t size, uint32_t crc) {
  const auto& table = crcTable();
  uint32_t c = crc ^ 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) c = table[(c ^ data[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::vector<uint8_t> encodePng(const uint8_t* pixels, int64_t width, int64_t height, int64_t channels, bool deflate) {
  if (width < 1 || height < 1 || width > kMaxSide || height > kMaxSide)
    throwBadInput("PNG: image size " + std::to_string(width) + " x " + std::to_string(height) +
                  " is outside 1.." + std::to_string(kMaxSide) + " per side");
  if (channels < 1 || channels > 4)
    throwBadInput("PNG: expected 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA) channels, got " +
                  std::to_string(channels));
  if (!pixels) throwBadInput("PNG: no pixel data");
  static const uint8_t kColourType[5] = {0, 0, 4, 2, 6};
  std::vector<uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<uint8_t> header;
  putUint32(header, static_cast<uint32_t>(width));
  putUint32(header, static_cast<uint32_t>(height));
  header.push_back(8);  // bit depth
  header.push_back(kColourType[channels]);
  header.push_back(0);  // deflate
  header.push_back(0);  // adaptive filtering
  header.push_back(0);  // no interlace
  putChunk(out, "IHDR", header);
  // Filter type 1 (Sub: each byte minus the one a pixel to its left) on every row: cheap,
  // and it turns the flat regions of sprites and plots into runs that deflate well.
  const size_t row_bytes = static_cast<size_t>(width * channels);
  std::vector<uint8_t> raw;
  raw.reserve(static_cast<size_t>(height) * (row_bytes + 1));
  for (int64_t y = 0; y < height; ++y) {
    const uint8_t* row = pixels + static_cast<size_t>(y) * row_bytes;
    raw.push_back(1);
    for (size_t i = 0; i < row_bytes; ++i)
      raw.push_back(static_cast<uint8_t>(row[i] - (i >= static_cast<size_t>(channels) ? row[i - channels] : 0)));
  }
  putChunk(out, "IDAT", zlibStream(raw, deflate));
  putChunk(out, "IEND", {});
  return out;
}

void writePng(const std::string& path, const uint8_t* pixels, int64_t width, int64_t height, int64_t channels) {
  const auto bytes = encodePng(pixels, width, height, channels);
  writeFileAtomically(path, std::string(bytes.begin(), bytes.end()));
}

}  // namespace studio
