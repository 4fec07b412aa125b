#include "widgets/qimage_convert.h"

#include <cstring>

namespace studio {

QImage toQImage(const ImageTable& table, int64_t index) {
  if (index < 0 || index >= table.count || !table.pixels) return {};
  return toQImage(table.image(index), static_cast<int>(table.channels), static_cast<int>(table.height),
                  static_cast<int>(table.width));
}

QImage toQImage(const uint8_t* planar, int channels, int height, int width) {
  if (!planar || height <= 0 || width <= 0 || (channels != 1 && channels != 3)) return {};
  const size_t plane = static_cast<size_t>(height) * static_cast<size_t>(width);
  if (channels == 1) {
    QImage image(width, height, QImage::Format_Grayscale8);
    // Row by row: QImage pads scan lines to 4 bytes, the planar buffer does not.
    for (int y = 0; y < height; ++y)
      std::memcpy(image.scanLine(y), planar + static_cast<size_t>(y) * width, static_cast<size_t>(width));
    return image;
  }
  QImage image(width, height, QImage::Format_RGB888);
  const uint8_t* r = planar;
  const uint8_t* g = planar + plane;
  const uint8_t* b = planar + 2 * plane;
  for (int y = 0; y < height; ++y) {
    uint8_t* out = image.scanLine(y);
    const size_t row = static_cast<size_t>(y) * width;
    for (int x = 0; x < width; ++x) {
      out[3 * x + 0] = r[row + x];
      out[3 * x + 1] = g[row + x];
      out[3 * x + 2] = b[row + x];
    }
  }
  return image;
}

QImage thumbnail(const QImage& image, int side) {
  if (image.isNull() || side <= 0) return {};
  const bool upscaling = image.width() < side && image.height() < side;
  const bool fits =
      image.width() <= side && image.height() <= side && (image.width() == side || image.height() == side);
  if (fits) return image;
  return image.scaled(side, side, Qt::KeepAspectRatio, upscaling ? Qt::FastTransformation : Qt::SmoothTransformation);
}

}  // namespace studio
