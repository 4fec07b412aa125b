#include "app/studio/results_page.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPainter>
#include <QPointer>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QScrollArea>
#include <QSplitter>
#include <QTabWidget>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

#include "core/base/error.h"
#include "widgets/class_accuracy_plot.h"
#include "widgets/qimage_convert.h"
#include "widgets/study_plot.h"

namespace studio {

namespace {

constexpr int kThumbnail = 64;
constexpr int kShownPairs = 200;

QString percentText(double fraction) {
  return fraction >= 0.1 ? QStringLiteral("%1%").arg(100.0 * fraction, 0, 'f', 0)
                         : QStringLiteral("%1%").arg(100.0 * fraction, 0, 'f', 1);
}

// "1%,10%,100%" or "0.01,0.1,1" -> fractions; empty when any part is not a share in (0, 1].
std::vector<double> parseFractions(const QString& text) {
  std::vector<double> out;
  for (QString part : text.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
    part = part.trimmed();
    const bool percent = part.endsWith(QLatin1Char('%'));
    if (percent) part.chop(1);
    bool ok = false;
    double v = part.toDouble(&ok);
    if (percent) v /= 100.0;
    if (!ok || !(v > 0 && v <= 1)) return {};
    out.push_back(v);
  }
  return out;
}

QString fractionsText(const std::vector<double>& fractions) {
  QStringList parts;
  for (const double f : fractions) parts << QStringLiteral("%1%").arg(100.0 * f, 0, 'g', 4);
  return parts.join(QLatin1Char(','));
}

QString className(const ImageTable& t, int64_t i) {
  const int64_t l = t.label(i);
  return l >= 0 && l < static_cast<int64_t>(t.class_names.size()) ? QString::fromStdString(t.class_names[size_t(l)])
                                                                   : QObject::tr("unlabeled");
}

// Two images side by side, the pair a duplicate or leak report is about.
QIcon pairIcon(const ImageTable& left, int64_t a, const ImageTable& right, int64_t b) {
  QImage canvas(2 * kThumbnail + 6, kThumbnail, QImage::Format_RGB32);
  canvas.fill(Qt::white);
  QPainter painter(&canvas);
  const QImage first = thumbnail(toQImage(left, a), kThumbnail);
  const QImage second = thumbnail(toQImage(right, b), kThumbnail);
  painter.drawImage((kThumbnail - first.width()) / 2, (kThumbnail - first.height()) / 2, first);
  painter.drawImage(kThumbnail + 6 + (kThumbnail - second.width()) / 2, (kThumbnail - second.height()) / 2, second);
  painter.end();
  return QIcon(QPixmap::fromImage(canvas));
}

QListWidget* pairList(const QString& name) {
  auto* list = new QListWidget;
  list->setViewMode(QListView::IconMode);
  list->setIconSize(QSize(2 * kThumbnail + 6, kThumbnail));
  list->setResizeMode(QListView::Adjust);
  list->setMovement(QListView::Static);
  list->setSpacing(6);
  list->setWordWrap(true);
  list->setAccessibleName(name);
  return list;
}

}  // namespace

ResultsPage::ResultsPage(QWidget* parent) : QWidget(parent) {
  run_label_ = new QLabel(tr("Open a run on the Runs page to measure its representation."));
  run_label_->setWordWrap(true);

  // Study settings.
  fractions_ = new QLineEdit(QStringLiteral("1%,10%,100%"));
  fractions_->setToolTip(tr("Shares of the labels each classifier gets, class-balanced: e.g. 1%,10%,100%"));
  seeds_ = new QSpinBox;
  seeds_->setRange(1, 20);
  seeds_->setValue(3);
  seeds_->setToolTip(tr("Different labelled subsets per share: the table shows their mean and spread"));
  bank_ = new QSpinBox;
  bank_->setRange(0, 10000000);
  bank_->setSingleStep(1000);
  bank_->setValue(10000);
  bank_->setSpecialValueText(tr("all"));
  bank_->setToolTip(tr("Labelled training images the subsets are drawn from (0 = all)"));
  pretrained_ = new QCheckBox(tr("pretrained"));
  random_init_ = new QCheckBox(tr("random init"));
  raw_pixels_ = new QCheckBox(tr("raw pixels"));
  scratch_ = new QCheckBox(tr("trained from scratch"));
  scratch_->setToolTip(tr("The same architecture trained supervised on the labelled subset from random weights"));
  finetuned_ = new QCheckBox(tr("fine-tuned"));
  finetuned_->setToolTip(tr("The pretrained encoder with a linear head, fine-tuned on the labelled subset"));
  supervised_epochs_ = new QSpinBox;
  supervised_epochs_->setRange(1, 1000);
  supervised_epochs_->setValue(static_cast<int>(finetune_.max_epochs));
  supervised_epochs_->setToolTip(tr("Most epochs of each supervised fit (early stopping on a validation split)"));
  linear_probe_ = new QCheckBox(tr("linear probe"));
  knn_ = new QCheckBox(tr("kNN"));
  for (QCheckBox* c : {pretrained_, random_init_, raw_pixels_, linear_probe_, knn_}) c->setChecked(true);
  run_study_ = new QPushButton(tr("Run &study"));
  run_study_->setEnabled(false);
  cancel_ = new QPushButton(tr("Cancel"));
  cancel_->setEnabled(false);
  progress_ = new QProgressBar;
  progress_->setRange(0, 1);
  progress_->setValue(0);
  progress_->setMaximumWidth(200);
  status_ = new QLabel;
  status_->setWordWrap(true);

  auto* representations = new QHBoxLayout;
  for (QCheckBox* c : {pretrained_, random_init_, raw_pixels_}) representations->addWidget(c);
  representations->addStretch(1);
  auto* supervised = new QHBoxLayout;
  for (QCheckBox* c : {scratch_, finetuned_}) supervised->addWidget(c);
  supervised->addWidget(new QLabel(tr("epochs")));
  supervised->addWidget(supervised_epochs_);
  supervised->addStretch(1);
  auto* classifiers = new QHBoxLayout;
  for (QCheckBox* c : {linear_probe_, knn_}) classifiers->addWidget(c);
  classifiers->addStretch(1);
  auto* form = new QFormLayout;
  form->addRow(tr("&Label shares"), fractions_);
  form->addRow(tr("S&eeds"), seeds_);
  form->addRow(tr("Labelled &pool"), bank_);
  form->addRow(tr("Representations"), representations);
  form->addRow(tr("Classifiers"), classifiers);
  form->addRow(tr("Supervised arms"), supervised);
  auto* settings = new QGroupBox(tr("Label-efficiency study"));
  settings->setLayout(form);

  auto* buttons = new QHBoxLayout;
  buttons->addWidget(run_study_);
  buttons->addWidget(cancel_);
  buttons->addWidget(progress_);
  buttons->addWidget(status_, 1);

  // Tab 1: the study.
  study_plot_ = new StudyPlot;
  study_table_ = new QTableWidget(0, 6);
  study_table_->setHorizontalHeaderLabels(
      {tr("Arm"), tr("Labels"), tr("Images"), tr("Top-1 (mean ± sd)"), tr("Seeds"), tr("ECE")});
  study_table_->horizontalHeader()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
  study_table_->horizontalHeader()->setStretchLastSection(true);
  study_table_->verticalHeader()->hide();
  study_table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  study_table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  study_table_->setAccessibleName(tr("Study table"));
  auto* study_split = new QSplitter(Qt::Horizontal);
  study_split->addWidget(study_plot_);
  study_split->addWidget(study_table_);
  study_split->setStretchFactor(0, 1);
  study_split->setStretchFactor(1, 1);

  // Tab 2: per class.
  cell_chooser_ = new QComboBox;
  cell_chooser_->setAccessibleName(tr("Study cell"));
  class_plot_ = new ClassAccuracyPlot;
  confusion_ = new QTableWidget;
  confusion_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  confusion_->setAccessibleName(tr("Confusion matrix"));
  calibration_ = new QLabel;
  calibration_->setWordWrap(true);
  auto* per_class = new QWidget;
  auto* pv = new QVBoxLayout(per_class);
  auto* chooser_row = new QHBoxLayout;
  auto* chooser_label = new QLabel(tr("Confusion matrix of"));
  chooser_label->setBuddy(cell_chooser_);
  chooser_row->addWidget(chooser_label);
  chooser_row->addWidget(cell_chooser_, 1);
  pv->addLayout(chooser_row);
  auto* class_split = new QSplitter(Qt::Vertical);
  class_split->addWidget(class_plot_);
  class_split->addWidget(confusion_);
  pv->addWidget(class_split, 1);
  pv->addWidget(calibration_);

  // Tab 3: duplicates and leaks.
  threshold_ = new QDoubleSpinBox;
  threshold_->setRange(0.5, 1.0);
  threshold_->setDecimals(3);
  threshold_->setSingleStep(0.005);
  threshold_->setValue(0.98);
  threshold_->setToolTip(tr("Pairs whose embeddings' cosine similarity reaches this count as near-duplicates"));
  scan_bank_ = new QSpinBox;
  scan_bank_->setRange(0, 10000000);
  scan_bank_->setSingleStep(1000);
  scan_bank_->setValue(10000);
  scan_bank_->setSpecialValueText(tr("all"));
  scan_queries_ = new QSpinBox;
  scan_queries_->setRange(0, 10000000);
  scan_queries_->setSingleStep(1000);
  scan_queries_->setValue(10000);
  scan_queries_->setSpecialValueText(tr("all"));
  run_scan_ = new QPushButton(tr("&Find duplicates and leaks"));
  run_scan_->setEnabled(false);
  scan_summary_ = new QLabel(tr("Near-duplicates inflate a training set; near-copies of test images in the "
                                "training set (leaks) inflate test accuracy. Find both before trusting a number."));
  scan_summary_->setWordWrap(true);
  leak_list_ = pairList(tr("Leaks"));
  duplicate_list_ = pairList(tr("Duplicates"));
  auto* scan_form = new QHBoxLayout;
  auto* threshold_label = new QLabel(tr("&Similarity ≥"));
  threshold_label->setBuddy(threshold_);
  scan_form->addWidget(threshold_label);
  scan_form->addWidget(threshold_);
  scan_form->addWidget(new QLabel(tr("training images")));
  scan_form->addWidget(scan_bank_);
  scan_form->addWidget(new QLabel(tr("held-out images")));
  scan_form->addWidget(scan_queries_);
  scan_form->addWidget(run_scan_);
  scan_form->addStretch(1);
  auto* scan_page = new QWidget;
  auto* sv = new QVBoxLayout(scan_page);
  sv->addLayout(scan_form);
  sv->addWidget(scan_summary_);
  sv->addWidget(new QLabel(tr("Leaks: a training image (left) and a held-out image (right)")));
  sv->addWidget(leak_list_, 1);
  sv->addWidget(new QLabel(tr("Near-duplicates within the training images")));
  sv->addWidget(duplicate_list_, 1);

  // The two tall tabs scroll on a small screen (1024x640) instead of setting the page's
  // minimum height.
  const auto scrolling = [](QWidget* page) {
    auto* area = new QScrollArea;
    area->setWidget(page);
    area->setWidgetResizable(true);
    area->setFrameShape(QFrame::NoFrame);
    return area;
  };
  tabs_ = new QTabWidget;
  tabs_->addTab(study_split, tr("Label efficiency"));
  tabs_->addTab(scrolling(per_class), tr("Per class"));
  tabs_->addTab(scrolling(scan_page), tr("Duplicates && leaks"));

  auto* layout = new QVBoxLayout(this);
  layout->addWidget(run_label_);
  layout->addWidget(settings);
  layout->addLayout(buttons);
  layout->addWidget(tabs_, 1);

  connect(run_study_, &QPushButton::clicked, this, &ResultsPage::startStudy);
  connect(run_scan_, &QPushButton::clicked, this, &ResultsPage::startDuplicateScan);
  connect(cancel_, &QPushButton::clicked, this, &ResultsPage::cancel);
  connect(cell_chooser_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this](int i) {
    if (i >= 0) showCell(cell_chooser_->itemData(i).toInt());
  });
}

ResultsPage::~ResultsPage() {
  if (task_) task_->cancel.store(true);
}

QString ResultsPage::statusText() const { return status_->text(); }

void ResultsPage::setRun(const QString& run_dir) {
  if (task_) task_->cancel.store(true);
  run_dir_ = run_dir;
  study_ = StudyResult{};
  scan_ = DuplicateScan{};
  showStudy();
  showScan();
  status_->clear();
  const bool has_run = !run_dir.isEmpty();
  run_study_->setEnabled(has_run && !task_);
  run_scan_->setEnabled(has_run && !task_);
  if (!has_run) {
    run_label_->setText(tr("Open a run on the Runs page to measure its representation."));
    return;
  }
  run_label_->setText(tr("Run %1").arg(QFileInfo(run_dir).fileName()));
  try {
    const RunFolder folder = RunFolder::open(RunFolder::open("", run_dir.toStdString()).runsDir(), run_dir.toStdString());
    study_ = loadSavedStudy(folder);
    if (!study_.cells.empty()) status_->setText(tr("Showing the study saved with the run."));
  } catch (const std::exception& e) {
    study_ = StudyResult{};
    status_->setText(tr("The saved study could not be read: %1").arg(QString::fromUtf8(e.what())));
  }
  showStudy();
}

RunStudyOptions ResultsPage::studyOptions() const {
  RunStudyOptions o;
  o.fractions = parseFractions(fractions_->text());
  o.seeds = seeds_->value();
  o.bank_size = bank_->value();
  o.query_size = query_size_;
  o.representations.clear();
  if (pretrained_->isChecked()) o.representations.push_back("pretrained");
  if (random_init_->isChecked()) o.representations.push_back("random-init");
  if (raw_pixels_->isChecked()) o.representations.push_back("raw-pixels");
  if (scratch_->isChecked()) o.representations.push_back("scratch");
  if (finetuned_->isChecked()) o.representations.push_back("finetuned");
  o.finetune = finetune_;
  o.finetune.max_epochs = supervised_epochs_->value();
  o.classifiers.clear();
  if (linear_probe_->isChecked()) o.classifiers.push_back("linear probe");
  if (knn_->isChecked()) o.classifiers.push_back("kNN");
  o.device = device_.toStdString();
  return o;
}

void ResultsPage::setStudyOptions(const RunStudyOptions& o) {
  fractions_->setText(fractionsText(o.fractions));
  seeds_->setValue(static_cast<int>(o.seeds));
  bank_->setValue(static_cast<int>(o.bank_size));
  query_size_ = o.query_size;
  const auto has = [](const std::vector<std::string>& list, const char* name) {
    return std::find(list.begin(), list.end(), name) != list.end();
  };
  pretrained_->setChecked(has(o.representations, "pretrained"));
  random_init_->setChecked(has(o.representations, "random-init"));
  raw_pixels_->setChecked(has(o.representations, "raw-pixels"));
  scratch_->setChecked(has(o.representations, "scratch"));
  finetuned_->setChecked(has(o.representations, "finetuned"));
  finetune_ = o.finetune;
  supervised_epochs_->setValue(static_cast<int>(o.finetune.max_epochs));
  linear_probe_->setChecked(has(o.classifiers, "linear probe"));
  knn_->setChecked(has(o.classifiers, "kNN"));
  if (!o.device.empty()) device_ = QString::fromStdString(o.device);
}

void ResultsPage::setScanSizes(qint64 bank, qint64 queries) {
  scan_bank_->setValue(static_cast<int>(bank));
  scan_queries_->setValue(static_cast<int>(queries));
}

void ResultsPage::setBusy(bool busy, const QString& what) {
  run_study_->setEnabled(!busy && !run_dir_.isEmpty());
  run_scan_->setEnabled(!busy && !run_dir_.isEmpty());
  cancel_->setEnabled(busy);
  if (busy) {
    progress_->setRange(0, 0);
    status_->setText(what);
  } else {
    progress_->setRange(0, 1);
    progress_->setValue(1);
  }
}

void ResultsPage::cancel() {
  if (task_) {
    task_->cancel.store(true);
    status_->setText(tr("Cancelling…"));
  }
}

void ResultsPage::fail(const QString& what, const QString& message, bool cancelled) {
  task_.reset();
  setBusy(false, {});
  progress_->setValue(0);
  status_->setText(cancelled ? tr("%1 cancelled.").arg(what) : tr("%1 failed: %2").arg(what, message));
  Q_EMIT taskFailed(message, cancelled);
}

void ResultsPage::startStudy() {
  if (task_ || run_dir_.isEmpty()) return;
  const RunStudyOptions options = studyOptions();
  if (options.fractions.empty()) {
    status_->setText(tr("Label shares must look like 1%,10%,100% (each above 0% and at most 100%)."));
    return;
  }
  if (options.representations.empty() || options.classifiers.empty()) {
    status_->setText(tr("Choose at least one representation and one classifier."));
    return;
  }
  setBusy(true, tr("Embedding the images…"));
  const std::string dir = run_dir_.toStdString();
  QPointer<ResultsPage> self(this);
  task_ = runInBackground<StudyResult>(
      this,
      [dir, options, self](TaskControl& control) {
        const RunFolder folder = RunFolder::open(RunFolder::open("", dir).runsDir(), dir);
        StudyResult result = runRunStudy(folder, options, [&](int64_t done, int64_t total, const std::string& what) {
          if (self)
            postTo(self.data(), [self, done, total, what]() {
              if (!self || !self->task_) return;
              self->progress_->setRange(0, static_cast<int>(total));
              self->progress_->setValue(static_cast<int>(done));
              self->status_->setText(QString::fromStdString(what));
            });
          return !control.cancelled();
        });
        saveStudy(folder, result);
        return result;
      },
      [this](StudyResult result) {
        task_.reset();
        setBusy(false, {});
        study_ = std::move(result);
        showStudy();
        status_->setText(tr("Study finished: %1 cells, saved in the run folder (label_efficiency.json, .csv, .svg).")
                             .arg(study_.cells.size()));
        Q_EMIT studyFinished();
      },
      [this](const QString& message, bool cancelled) { fail(tr("The study"), message, cancelled); });
}

void ResultsPage::startDuplicateScan() {
  if (task_ || run_dir_.isEmpty()) return;
  setBusy(true, tr("Embedding and comparing the images…"));
  const std::string dir = run_dir_.toStdString();
  const double threshold = threshold_->value();
  const int64_t bank = scan_bank_->value(), queries = scan_queries_->value();
  const std::string device = device_.toStdString();
  task_ = runInBackground<DuplicateScan>(
      this,
      [dir, threshold, bank, queries, device](TaskControl& control) {
        const RunFolder folder = RunFolder::open(RunFolder::open("", dir).runsDir(), dir);
        DuplicateScan scan = scanRunForDuplicates(folder, threshold, bank, queries, device, kShownPairs);
        if (control.cancelled()) throw Error(ErrorKind::Cancelled, "duplicate scan cancelled");
        return scan;
      },
      [this](DuplicateScan scan) {
        task_.reset();
        setBusy(false, {});
        scan_ = std::move(scan);
        showScan();
        status_->setText(tr("Duplicate and leak scan finished."));
        tabs_->setCurrentIndex(2);
        Q_EMIT scanFinished();
      },
      [this](const QString& message, bool cancelled) { fail(tr("The duplicate scan"), message, cancelled); });
}

void ResultsPage::showStudy() {
  study_plot_->setStudy(study_);
  study_table_->setRowCount(static_cast<int>(study_.cells.size()));
  cell_chooser_->blockSignals(true);
  cell_chooser_->clear();
  for (int r = 0; r < static_cast<int>(study_.cells.size()); ++r) {
    const StudyCell& c = study_.cells[static_cast<size_t>(r)];
    const QString ece = c.expected_calibration_error < 0 ? QStringLiteral("–")
                                                         : QString::number(c.expected_calibration_error, 'f', 3);
    const QStringList fields = {QString::fromStdString(c.arm),
                                percentText(c.label_fraction),
                                QString::number(c.labeled_images),
                                tr("%1% ± %2").arg(100.0 * c.mean, 0, 'f', 2).arg(100.0 * c.std, 0, 'f', 2),
                                QString::number(c.top1.size()),
                                ece};
    for (int col = 0; col < fields.size(); ++col) {
      auto* item = new QTableWidgetItem(fields[col]);
      if (col > 0) item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
      study_table_->setItem(r, col, item);
    }
    cell_chooser_->addItem(tr("%1 · %2 labels").arg(QString::fromStdString(c.arm), percentText(c.label_fraction)), r);
  }
  cell_chooser_->blockSignals(false);
  study_table_->resizeColumnsToContents();
  if (study_.cells.empty()) {
    class_plot_->clear();
    confusion_->setRowCount(0);
    confusion_->setColumnCount(0);
    calibration_->clear();
    return;
  }
  // The first arm at its largest share: usually "pretrained / linear probe" with all labels.
  int chosen = 0;
  for (int r = 0; r < static_cast<int>(study_.cells.size()); ++r)
    if (study_.cells[size_t(r)].arm == study_.cells.front().arm) chosen = r;
  cell_chooser_->setCurrentIndex(chosen);
  showCell(chosen);
}

void ResultsPage::showCell(int index) {
  if (index < 0 || index >= static_cast<int>(study_.cells.size())) return;
  const StudyCell& cell = study_.cells[static_cast<size_t>(index)];
  QStringList classes;
  for (const auto& n : study_.class_names) classes << QString::fromStdString(n);
  // Bars: every arm at this cell's share, so the classes one representation misses show.
  QStringList arms;
  QVector<QVector<double>> accuracy;
  for (const auto& c : study_.cells) {
    if (c.label_fraction != cell.label_fraction) continue;
    arms << QString::fromStdString(c.arm);
    accuracy.push_back(QVector<double>(c.per_class_accuracy.begin(), c.per_class_accuracy.end()));
  }
  class_plot_->setData(classes, arms, accuracy);

  const int n = static_cast<int>(classes.size());
  confusion_->setRowCount(n);
  confusion_->setColumnCount(n);
  confusion_->setHorizontalHeaderLabels(classes);
  confusion_->setVerticalHeaderLabels(classes);
  for (int i = 0; i < n; ++i) {
    int64_t row_total = 0;
    for (int j = 0; j < n; ++j) row_total += cell.confusion[size_t(i * n + j)];
    for (int j = 0; j < n; ++j) {
      const int64_t count = cell.confusion[size_t(i * n + j)];
      auto* item = new QTableWidgetItem(QString::number(count));
      item->setTextAlignment(Qt::AlignCenter);
      const double share = row_total > 0 ? double(count) / double(row_total) : 0.0;
      // Correct predictions in blue, confusions in red, deeper for a larger share of the row.
      const QColor base = i == j ? QColor(0x00, 0x72, 0xB2) : QColor(0xD5, 0x5E, 0x00);
      QColor fill = base;
      fill.setAlphaF(std::min(1.0, 0.08 + 0.85 * share));
      if (count > 0) item->setBackground(fill);
      if (share > 0.55) item->setForeground(Qt::white);
      item->setToolTip(tr("%1 true %2, predicted %3 (%4% of the row)")
                           .arg(count)
                           .arg(classes[i], classes[j])
                           .arg(100.0 * share, 0, 'f', 1));
      confusion_->setItem(i, j, item);
    }
  }
  confusion_->resizeColumnsToContents();
  QString text = tr("%1 with %2 of the labels (%3 images), seed 0: top-1 %4%")
                     .arg(QString::fromStdString(cell.arm), percentText(cell.label_fraction))
                     .arg(cell.labeled_images)
                     .arg(100.0 * (cell.top1.empty() ? 0.0 : cell.top1.front()), 0, 'f', 2);
  if (cell.expected_calibration_error >= 0)
    text += tr("; expected calibration error %1 (0 = confidence matches accuracy)")
                .arg(cell.expected_calibration_error, 0, 'f', 3);
  else
    text += tr("; no calibration figure (the classifier gives no probabilities)");
  calibration_->setText(text);
}

void ResultsPage::showScan() {
  leak_list_->clear();
  duplicate_list_->clear();
  if (scan_.train.empty()) return;
  scan_summary_->setText(
      tr("Cosine similarity ≥ %1 in the encoder's embedding (step %2) over %3 training and %4 held-out images: "
         "%5 leak pair(s) involving %6 images, %7 near-duplicate pair(s) within training involving %8 images.")
          .arg(scan_.threshold, 0, 'f', 3)
          .arg(scan_.step)
          .arg(scan_.train.count)
          .arg(scan_.test.count)
          .arg(scan_.leak_pairs)
          .arg(scan_.leak_images)
          .arg(scan_.duplicate_pairs)
          .arg(scan_.duplicate_images));
  const auto fill = [](QListWidget* list, const std::vector<ScanPair>& pairs, const ImageTable& left,
                       const ImageTable& right, const QString& right_name) {
    for (size_t i = 0; i < pairs.size() && static_cast<int>(i) < kShownPairs; ++i) {
      const ScanPair& p = pairs[i];
      auto* item = new QListWidgetItem(pairIcon(left, p.a, right, p.b),
                                       QStringLiteral("#%1 ~ #%2\n%3").arg(p.a).arg(p.b).arg(p.similarity, 0, 'f', 4));
      item->setToolTip(QObject::tr("training #%1 (%2) and %3 #%4 (%5): cosine similarity %6")
                           .arg(p.a)
                           .arg(className(left, p.a), right_name)
                           .arg(p.b)
                           .arg(className(right, p.b))
                           .arg(p.similarity, 0, 'f', 5));
      item->setData(Qt::UserRole, QPoint(static_cast<int>(p.a), static_cast<int>(p.b)));
      list->addItem(item);
    }
  };
  fill(leak_list_, scan_.leaks, scan_.train, scan_.test, tr("held-out"));
  fill(duplicate_list_, scan_.duplicates, scan_.train, scan_.train, tr("training"));
}

}  // namespace studio
