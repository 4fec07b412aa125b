// studio-render-icon SVG OUT_DIR SIZE...: renders the application icon into the hicolor
// PNG sizes desktops look for (OUT_DIR/NxN/apps/<name>.png), at build time, with Qt's own
// SVG image plugin, so the packages carry sharp bitmaps for every size.
#include <QDir>
#include <QFileInfo>
#include <QGuiApplication>
#include <QImage>
#include <QImageReader>

#include <cstdio>

int main(int argc, char** argv) {
  QGuiApplication app(argc, argv);
  if (argc < 4) {
    std::fprintf(stderr, "usage: studio-render-icon SVG OUT_DIR SIZE...\n");
    return 2;
  }
  const QString svg = QString::fromLocal8Bit(argv[1]);
  const QString out_dir = QString::fromLocal8Bit(argv[2]);
  const QString name = QFileInfo(svg).completeBaseName();
  for (int i = 3; i < argc; ++i) {
    const int side = QString::fromLocal8Bit(argv[i]).toInt();
    if (side <= 0) {
      std::fprintf(stderr, "studio-render-icon: %s is not a size in pixels\n", argv[i]);
      return 2;
    }
    QImageReader reader(svg);
    reader.setScaledSize(QSize(side, side));
    const QImage image = reader.read();
    if (image.isNull()) {
      std::fprintf(stderr, "studio-render-icon: cannot render %s: %s (is Qt's SVG image plugin installed?)\n",
                   argv[1], qPrintable(reader.errorString()));
      return 1;
    }
    const QString dir = QStringLiteral("%1/%2x%2/apps").arg(out_dir).arg(side);
    const QString path = dir + QLatin1Char('/') + name + QStringLiteral(".png");
    if (!QDir().mkpath(dir) || !image.save(path)) {
      std::fprintf(stderr, "studio-render-icon: cannot write %s\n", qPrintable(path));
      return 1;
    }
  }
  return 0;
}
