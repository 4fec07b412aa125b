#pragma once
// The studio's look: the Fusion style everywhere (it renders the same on every platform
// and honours palettes fully), with the user's choice of palette.
#include <QPalette>

#include "app/studio/preferences.h"

namespace studio {

// Sets the Fusion style and the palette for theme on the running QApplication (no-op
// without one). System restores the palette the platform gave the application before the
// first call, so call this once at startup before anything else changes the palette.
void applyTheme(Preferences::Theme theme);

// A dark palette with every role of every colour group set, legible text and links.
QPalette darkPalette();
// Fusion's standard (light) palette.
QPalette lightPalette();

// True when the palette's window colour is dark (lightness below 128); widgets that draw
// their own colours (plots, status dots) use it to pick contrasting ones.
bool isDarkPalette(const QPalette& palette);

}  // namespace studio
