#include "widgets/number_field.h"

#include <QLocale>

#include <cmath>

namespace studio {

NumberField::NumberField(double minimum, double maximum, bool whole, double step, QWidget* parent)
    : QDoubleSpinBox(parent), whole_(whole) {
  // Decimals bound the rounding QDoubleSpinBox applies to every value: 15 keeps any value of
  // these ranges to a relative 1e-8 at worst (1e-7 itself exactly), 0 keeps whole numbers.
  setDecimals(whole ? 0 : 15);
  setRange(minimum, maximum);
  setSingleStep(step);
  setAccelerated(true);
}

QString NumberField::textFromValue(double value) const {
  const QLocale locale = this->locale();
  if (whole_) return locale.toString(value, 'f', 0).remove(locale.groupSeparator());
  return locale.toString(value, 'g', 10);
}

double NumberField::valueFromText(const QString& text) const {
  if (!specialValueText().isEmpty() && text == specialValueText()) return minimum();
  bool ok = false;
  const double v = locale().toDouble(text.trimmed(), &ok);
  return ok ? (whole_ ? std::round(v) : v) : value();
}

QValidator::State NumberField::validate(QString& text, int& /*pos*/) const {
  if (!specialValueText().isEmpty() && text == specialValueText()) return QValidator::Acceptable;
  const QString t = text.trimmed();
  if (t.isEmpty() || t == QLatin1String("-") || t.endsWith(QLatin1Char('e'), Qt::CaseInsensitive) ||
      t.endsWith(QLatin1Char('-')) || t.endsWith(locale().decimalPoint()))
    return QValidator::Intermediate;  // on the way to a number
  bool ok = false;
  const double v = locale().toDouble(t, &ok);
  if (!ok) return QValidator::Invalid;
  if (whole_ && std::floor(v) != v) return QValidator::Invalid;
  return v >= minimum() && v <= maximum() ? QValidator::Acceptable : QValidator::Intermediate;
}

}  // namespace studio
