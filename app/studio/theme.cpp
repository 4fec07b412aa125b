#include "app/studio/theme.h"

#include <memory>
#include <optional>

#include <QApplication>
#include <QColor>
#include <QStyle>
#include <QStyleFactory>
#include <QToolTip>

namespace studio {

namespace {

const QString kFusion = QStringLiteral("Fusion");

// What the platform gave the application before the studio changed anything: the target
// of "System". Captured on the first applyTheme() call.
std::optional<QPalette>& systemPalette() {
  static std::optional<QPalette> palette;
  return palette;
}

void setAll(QPalette& p, QPalette::ColorRole role, const QColor& color) {
  for (auto group : {QPalette::Active, QPalette::Inactive, QPalette::Disabled}) p.setColor(group, role, color);
}

}  // namespace

QPalette darkPalette() {
  // Greys a little blue-tinted rather than pure black: easier on the eyes, and the bevel
  // roles (light..shadow) stay ordered so Fusion's frames and handles remain visible.
  const QColor window(45, 45, 48);
  const QColor base(30, 30, 33);
  const QColor alternate(38, 38, 42);
  const QColor button(53, 53, 57);
  const QColor text(230, 230, 230);
  const QColor disabled_text(122, 122, 126);
  const QColor highlight(61, 127, 214);

  QPalette p;
  setAll(p, QPalette::Window, window);
  setAll(p, QPalette::WindowText, text);
  setAll(p, QPalette::Base, base);
  setAll(p, QPalette::AlternateBase, alternate);
  setAll(p, QPalette::ToolTipBase, QColor(58, 58, 63));
  setAll(p, QPalette::ToolTipText, QColor(240, 240, 240));
  setAll(p, QPalette::PlaceholderText, QColor(140, 140, 145));
  setAll(p, QPalette::Text, text);
  setAll(p, QPalette::Button, button);
  setAll(p, QPalette::ButtonText, text);
  setAll(p, QPalette::BrightText, QColor(255, 107, 107));
  setAll(p, QPalette::Light, QColor(82, 82, 88));
  setAll(p, QPalette::Midlight, QColor(66, 66, 71));
  setAll(p, QPalette::Mid, QColor(38, 38, 41));
  setAll(p, QPalette::Dark, QColor(28, 28, 30));
  setAll(p, QPalette::Shadow, QColor(10, 10, 10));
  setAll(p, QPalette::Highlight, highlight);
  setAll(p, QPalette::HighlightedText, QColor(255, 255, 255));
  // Light enough to read on the dark base, and distinct from plain text.
  setAll(p, QPalette::Link, QColor(108, 179, 255));
  setAll(p, QPalette::LinkVisited, QColor(180, 140, 242));

  // An unfocused window keeps its selection readable but quieter.
  p.setColor(QPalette::Inactive, QPalette::Highlight, QColor(58, 88, 130));
  p.setColor(QPalette::Inactive, QPalette::HighlightedText, QColor(225, 225, 225));

  // Disabled: dimmed text on slightly flatter surfaces, still above 3:1 against window.
  p.setColor(QPalette::Disabled, QPalette::WindowText, disabled_text);
  p.setColor(QPalette::Disabled, QPalette::Text, disabled_text);
  p.setColor(QPalette::Disabled, QPalette::ButtonText, disabled_text);
  p.setColor(QPalette::Disabled, QPalette::PlaceholderText, QColor(96, 96, 100));
  p.setColor(QPalette::Disabled, QPalette::Base, QColor(38, 38, 41));
  p.setColor(QPalette::Disabled, QPalette::Button, QColor(48, 48, 51));
  p.setColor(QPalette::Disabled, QPalette::Highlight, QColor(74, 74, 79));
  p.setColor(QPalette::Disabled, QPalette::HighlightedText, QColor(160, 160, 164));
  p.setColor(QPalette::Disabled, QPalette::Link, QColor(96, 128, 170));
  p.setColor(QPalette::Disabled, QPalette::LinkVisited, QColor(128, 110, 160));
  p.setColor(QPalette::Disabled, QPalette::BrightText, QColor(170, 90, 90));
  return p;
}

QPalette lightPalette() {
  std::unique_ptr<QStyle> fusion(QStyleFactory::create(kFusion));
  return fusion ? fusion->standardPalette() : QPalette(QColor(239, 239, 239));
}

bool isDarkPalette(const QPalette& palette) { return palette.color(QPalette::Window).lightness() < 128; }

void applyTheme(Preferences::Theme theme) {
  auto* app = qobject_cast<QApplication*>(QCoreApplication::instance());
  if (!app) return;
  if (!systemPalette()) systemPalette() = QApplication::palette();

  // Re-setting the same style would repolish every widget for nothing.
  if (QApplication::style()->name().compare(kFusion, Qt::CaseInsensitive) != 0) QApplication::setStyle(kFusion);

  QPalette palette;
  switch (theme) {
    case Preferences::Theme::Dark:
      palette = darkPalette();
      break;
    case Preferences::Theme::Light:
      palette = QApplication::style()->standardPalette();
      break;
    case Preferences::Theme::System:
      palette = *systemPalette();
      break;
  }
  QApplication::setPalette(palette);
  // Tool tips keep a palette of their own, taken once; keep it in step with the theme.
  QToolTip::setPalette(palette);
}

}  // namespace studio
