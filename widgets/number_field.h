#pragma once
// A spin box for a number whose range is wide: a learning rate from 1e-7 to 100, a seed up
// to 2^53. QDoubleSpinBox rounds every value to its fixed decimals (1e-7 at 6 decimals is 0)
// and QSpinBox stops at 2^31; this field keeps the value as given (15 decimals, or a whole
// number) and shows it compactly (1e-07, 0.0003, 9007199254740992).
#include <QDoubleSpinBox>

namespace studio {

class NumberField : public QDoubleSpinBox {
  Q_OBJECT
 public:
  // whole: only whole numbers (shown without decimals). step: the arrows' increment.
  NumberField(double minimum, double maximum, bool whole, double step, QWidget* parent = nullptr);

  QString textFromValue(double value) const override;
  double valueFromText(const QString& text) const override;
  QValidator::State validate(QString& text, int& pos) const override;

 private:
  bool whole_;
};

}  // namespace studio
