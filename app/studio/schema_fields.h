#pragma once
// The studio's fields for experiment keys, built from the schema (core/experiment/config_schema.h):
// a numeric field takes the key's range, a tooltip states it, and a combo box for a closed
// choice carries the enum's word as each item's data. So every value the engine accepts is
// shown and saved back as it is, and the pages hold no copy of a range or a word.
#include <QComboBox>
#include <QString>

#include "core/base/enum_words.h"

class QDoubleSpinBox;
class QSpinBox;

namespace studio {

// The property a schema field carries: its key path ("optim.lr").
inline constexpr const char* kSchemaKeyProperty = "studioSchemaKey";

// A field for any Integer or Number key (NumberField: exact up to 2^53, 1e-7 shown as such).
QDoubleSpinBox* schemaNumberField(const char* key, double step);
// A QSpinBox for an Integer key whose range fits an int.
QSpinBox* schemaIntField(const char* key, int step = 1);
// text followed by "Allowed: min to max (key)." when field carries a schema key.
QString schemaTooltip(const QString& text, const QWidget* field);

template <typename E>
void addChoice(QComboBox* combo, E value, const QString& label) {
  combo->addItem(label, QString::fromStdString(wordOf(value)));
}
template <typename E>
void selectChoice(QComboBox* combo, E value) {
  const int i = combo->findData(QString::fromStdString(wordOf(value)));
  if (i >= 0) combo->setCurrentIndex(i);
}
// The choice the combo shows; fallback when its item carries no word of E.
template <typename E>
E currentChoice(const QComboBox* combo, E fallback) {
  E value = fallback;
  enumFromWord(combo->currentData().toString().toStdString(), value);
  return value;
}

}  // namespace studio
