#include "app/studio/schema_fields.h"

#include <QCoreApplication>
#include <QSpinBox>

#include "core/base/text_format.h"
#include "core/experiment/config_schema.h"
#include "widgets/number_field.h"

namespace studio {

QDoubleSpinBox* schemaNumberField(const char* key, double step) {
  const ConfigKey& k = configKey(key);
  auto* field = new NumberField(k.min, k.max, k.integer(), step);
  field->setProperty(kSchemaKeyProperty, QString::fromLatin1(key));
  return field;
}

QSpinBox* schemaIntField(const char* key, int step) {
  const ConfigKey& k = configKey(key);
  auto* field = new QSpinBox;
  field->setProperty(kSchemaKeyProperty, QString::fromLatin1(key));
  field->setRange(static_cast<int>(k.min), static_cast<int>(k.max));
  field->setSingleStep(step);
  field->setAccelerated(true);
  return field;
}

QString schemaTooltip(const QString& text, const QWidget* field) {
  const QString key = field->property(kSchemaKeyProperty).toString();
  if (key.isEmpty()) return text;
  const ConfigKey& k = configKey(key.toStdString());
  return text + QLatin1Char(' ') +
         QCoreApplication::translate("studio", "Allowed: %1 to %2 (%3).")
             .arg(QString::fromStdString(formatNumber(k.min)), QString::fromStdString(formatNumber(k.max)), key);
}

}  // namespace studio
