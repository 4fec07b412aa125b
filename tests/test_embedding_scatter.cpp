// The embedding scatter: hit-testing, lasso selection, the legend, clicks, hover thumbnails,
// animated layout refreshes that keep the view fitted, zoom/pan, and a paint-time figure for
// 70,000 points. Runs on the offscreen platform.
#include <QtTest/QtTest>

#include <QApplication>
#include <QElapsedTimer>
#include <QMouseEvent>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QVariantAnimation>

#include <algorithm>
#include <cmath>
#include <memory>

#include "widgets/embedding_scatter.h"

using studio::EmbeddingScatter;

namespace {

constexpr int kPerCluster = 50;
constexpr double kPi = 3.14159265358979323846;

// Class 0 bottom-left, class 1 bottom-right, class 2 top-left and an unlabeled cluster at the
// bottom centre: nothing near the top-right, where the legend sits, nor near (0, 4).
struct Clusters {
  QVector<QPointF> xy;
  QVector<int> labels;
  QVector<QPointF> centres{{-10, -8}, {10, -8}, {-10, 8}, {0, -8}};
  QVector<int> centre_labels{0, 1, 2, -1};
  QVector<int> indicesOf(int label) const {
    QVector<int> out;
    for (int i = 0; i < labels.size(); ++i)
      if (labels[i] == label) out.append(i);
    return out;
  }
};

Clusters makeClusters() {
  Clusters c;
  QRandomGenerator rng(7);
  for (int k = 0; k < c.centres.size(); ++k) {
    for (int i = 0; i < kPerCluster; ++i) {
      // Uniform in a disc of radius 1.5 around the centre.
      const double r = 1.5 * std::sqrt(rng.generateDouble()), a = 2 * kPi * rng.generateDouble();
      c.xy.append(c.centres[k] + QPointF(r * std::cos(a), r * std::sin(a)));
      c.labels.append(c.centre_labels[k]);
    }
  }
  return c;
}

const QStringList kNames{QStringLiteral("airplane"), QStringLiteral("cat"), QStringLiteral("ship")};

void sendMouse(QWidget* w, QEvent::Type type, const QPointF& pos, Qt::MouseButton button, Qt::MouseButtons buttons,
               Qt::KeyboardModifiers modifiers = Qt::NoModifier) {
  QMouseEvent event(type, pos, w->mapToGlobal(pos), button, buttons, modifiers);
  QApplication::sendEvent(w, &event);
}

// A click at an exact (sub-pixel) position, so that dense clusters cannot make it ambiguous.
void clickAt(QWidget* w, const QPointF& pos, Qt::KeyboardModifiers modifiers = Qt::NoModifier) {
  sendMouse(w, QEvent::MouseButtonPress, pos, Qt::LeftButton, Qt::LeftButton, modifiers);
  sendMouse(w, QEvent::MouseButtonRelease, pos, Qt::LeftButton, Qt::NoButton, modifiers);
}

// A lasso drawn as a 32-gon of the given radius (widget pixels) around a widget position.
void lassoAround(QWidget* w, const QPointF& centre, double radius, Qt::KeyboardModifiers modifiers = Qt::NoModifier) {
  auto at = [&](int step) {
    const double a = 2 * kPi * step / 32;
    return (centre + QPointF(radius * std::cos(a), radius * std::sin(a))).toPoint();
  };
  QTest::mousePress(w, Qt::LeftButton, modifiers, at(0));
  for (int step = 1; step <= 32; ++step) QTest::mouseMove(w, at(step));
  QTest::mouseRelease(w, Qt::LeftButton, modifiers, at(32));
}

bool allInside(const EmbeddingScatter& w) {
  const QRectF area(w.rect());
  for (int i = 0; i < w.pointCount(); ++i)
    if (!area.contains(w.toWidget(w.position(i)))) return false;
  return true;
}

}  // namespace

class TestEmbeddingScatter : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void init();
  void cleanup();

  void emptyStateShowsPlaceholder();
  void viewFitsDataAndTransformsRoundTrip();
  void pointAtFindsPoints();
  void hiddenClassIsNotHitTestable();
  void lassoSelectsCluster();
  void shiftLassoAddsAndSkipsHiddenClasses();
  void clickOnPointEmitsPointClicked();
  void clickOnEmptySpaceAndEscapeClearSelection();
  void legendClickTogglesAndCtrlClickIsolates();
  void updateLayoutAnimatesAndKeepsFit();
  void updateLayoutWithWrongSizeFallsBack();
  void zoomAndPanStopFollowingUntilReset();
  void hoverEmitsAndDrawsCrispThumbnail();
  void classColoursAreDistinct();
  void paints70kPointsQuickly();

 private:
  void showWithClusters();

  std::unique_ptr<EmbeddingScatter> w_;
  Clusters clusters_;
};

void TestEmbeddingScatter::init() {
  w_ = std::make_unique<EmbeddingScatter>();
  w_->resize(600, 400);
  w_->show();
  QVERIFY(QTest::qWaitForWindowExposed(w_.get()));
  QCOMPARE(w_->size(), QSize(600, 400));
}

void TestEmbeddingScatter::cleanup() { w_.reset(); }

void TestEmbeddingScatter::showWithClusters() {
  clusters_ = makeClusters();
  w_->setPoints(clusters_.xy, clusters_.labels, kNames);
}

void TestEmbeddingScatter::emptyStateShowsPlaceholder() {
  QCOMPARE(w_->pointCount(), 0);
  QCOMPARE(w_->placeholderText(), QStringLiteral("No embeddings yet: they appear after the first evaluation"));
  QCOMPARE(w_->pointAt(QPointF(300, 200)), -1);
  QVERIFY(w_->legendItemRect(0).isEmpty());
  QVERIFY(!w_->accessibleName().isEmpty());
  QVERIFY(!w_->grab().isNull());  // paints the hint without data

  w_->setPlaceholderText(QStringLiteral("Nothing here"));
  QCOMPARE(w_->placeholderText(), QStringLiteral("Nothing here"));

  showWithClusters();
  QCOMPARE(w_->pointCount(), 4 * kPerCluster);
  QSignalSpy selection_spy(w_.get(), &EmbeddingScatter::selectionChanged);
  w_->setSelection({1, 2});
  w_->clear();
  QCOMPARE(w_->pointCount(), 0);
  QVERIFY(w_->selection().isEmpty());
  QCOMPARE(selection_spy.count(), 2);  // set, then cleared by clear()
  QCOMPARE(w_->pointAt(QPointF(300, 200)), -1);
}

void TestEmbeddingScatter::viewFitsDataAndTransformsRoundTrip() {
  showWithClusters();
  QVERIFY(w_->followsData());
  QVERIFY(allInside(*w_));
  // The fit uses the room: the extreme points come close to the (24 px) margin on one axis.
  double top = 1e9, bottom = -1e9;
  for (int i = 0; i < w_->pointCount(); ++i) {
    top = std::min(top, w_->toWidget(w_->position(i)).y());
    bottom = std::max(bottom, w_->toWidget(w_->position(i)).y());
  }
  QVERIFY2(top < 30 && bottom > 370, qPrintable(QStringLiteral("%1..%2").arg(top).arg(bottom)));
  // Data y grows upwards.
  QVERIFY(w_->toWidget(QPointF(0, 5)).y() < w_->toWidget(QPointF(0, -5)).y());
  const QPointF p(3.25, -1.5);
  const QPointF back = w_->toData(w_->toWidget(p));
  QVERIFY(std::abs(back.x() - p.x()) < 1e-9 && std::abs(back.y() - p.y()) < 1e-9);
}

void TestEmbeddingScatter::pointAtFindsPoints() {
  showWithClusters();
  for (int i : {0, 7, 49, 50, 99, 123, 160, 199}) QCOMPARE(w_->pointAt(w_->toWidget(w_->position(i))), i);
  // Within the radius but off the exact spot: still the nearest.
  const int i = 42;
  const QPointF near = w_->toWidget(w_->position(i)) + QPointF(0.3, -0.2);
  QCOMPARE(w_->pointAt(near), i);
  // Far from everything: the empty middle of the map, a corner, outside the widget.
  QCOMPARE(w_->pointAt(w_->toWidget(QPointF(0, 4))), -1);
  QCOMPARE(w_->pointAt(QPointF(300, 10)), -1);
  QCOMPARE(w_->pointAt(QPointF(-500, -500)), -1);
  QCOMPARE(w_->pointAt(QPointF(1e12, 1e12)), -1);
  // The radius matters: 12 px to the right of a cluster's rightmost point.
  int rightmost = 0;
  for (int k = 0; k < kPerCluster; ++k)
    if (w_->position(k).x() > w_->position(rightmost).x()) rightmost = k;
  const QPointF beside = w_->toWidget(w_->position(rightmost)) + QPointF(12, 0);
  QCOMPARE(w_->pointAt(beside, 6.0), -1);
  QCOMPARE(w_->pointAt(beside, 12.5), rightmost);
}

void TestEmbeddingScatter::hiddenClassIsNotHitTestable() {
  showWithClusters();
  QSignalSpy spy(w_.get(), &EmbeddingScatter::classVisibilityChanged);
  const int cat = clusters_.indicesOf(1).first();
  const int unlabeled = clusters_.indicesOf(-1).first();
  w_->setClassVisible(1, false);
  QCOMPARE(spy.count(), 1);
  QVERIFY(!w_->isClassVisible(1));
  QCOMPARE(w_->pointAt(w_->toWidget(w_->position(cat))), -1);
  QCOMPARE(w_->pointAt(w_->toWidget(w_->position(0))), 0);
  w_->setClassVisible(1, false);  // no change, no signal
  QCOMPARE(spy.count(), 1);

  w_->setClassVisible(-1, false);
  QCOMPARE(w_->pointAt(w_->toWidget(w_->position(unlabeled))), -1);
  w_->showAllClasses();
  QCOMPARE(spy.count(), 3);
  QCOMPARE(w_->pointAt(w_->toWidget(w_->position(cat))), cat);
  QCOMPARE(w_->pointAt(w_->toWidget(w_->position(unlabeled))), unlabeled);

  w_->isolateClass(2);
  QVERIFY(w_->isClassVisible(2) && !w_->isClassVisible(0) && !w_->isClassVisible(1) && !w_->isClassVisible(-1));
  QCOMPARE(w_->pointAt(w_->toWidget(w_->position(0))), -1);
}

void TestEmbeddingScatter::lassoSelectsCluster() {
  showWithClusters();
  QSignalSpy spy(w_.get(), &EmbeddingScatter::selectionChanged);
  // 2.5 data units around class 0's centre: the whole cluster (radius 1.5), nothing else.
  const QPointF centre = w_->toWidget(clusters_.centres[0]);
  const double radius = 2.5 * (w_->toWidget(QPointF(1, 0)).x() - w_->toWidget(QPointF(0, 0)).x());
  lassoAround(w_.get(), centre, radius);
  QCOMPARE(spy.count(), 1);
  QCOMPARE(w_->selection(), clusters_.indicesOf(0));
  QCOMPARE(spy.first().first().value<QVector<int>>(), clusters_.indicesOf(0));

  // A new lasso without Shift replaces the selection.
  lassoAround(w_.get(), w_->toWidget(clusters_.centres[1]), radius);
  QCOMPARE(spy.count(), 2);
  QCOMPARE(w_->selection(), clusters_.indicesOf(1));
}

void TestEmbeddingScatter::shiftLassoAddsAndSkipsHiddenClasses() {
  showWithClusters();
  const double radius = 2.5 * (w_->toWidget(QPointF(1, 0)).x() - w_->toWidget(QPointF(0, 0)).x());
  lassoAround(w_.get(), w_->toWidget(clusters_.centres[0]), radius);
  lassoAround(w_.get(), w_->toWidget(clusters_.centres[3]), radius, Qt::ShiftModifier);
  QVector<int> expected = clusters_.indicesOf(0) + clusters_.indicesOf(-1);
  std::sort(expected.begin(), expected.end());
  QCOMPARE(w_->selection(), expected);

  // A lasso around everything leaves hidden classes out.
  w_->setClassVisible(2, false);
  QVector<QPoint> corners{{5, 5}, {595, 5}, {595, 395}, {5, 395}, {5, 6}};
  QTest::mousePress(w_.get(), Qt::LeftButton, Qt::NoModifier, QPoint(5, 200));
  for (const QPoint& c : corners) QTest::mouseMove(w_.get(), c);
  QTest::mouseRelease(w_.get(), Qt::LeftButton, Qt::NoModifier, QPoint(5, 7));
  expected = clusters_.indicesOf(0) + clusters_.indicesOf(1) + clusters_.indicesOf(-1);
  std::sort(expected.begin(), expected.end());
  QCOMPARE(w_->selection(), expected);
}

void TestEmbeddingScatter::clickOnPointEmitsPointClicked() {
  showWithClusters();
  QSignalSpy clicked(w_.get(), &EmbeddingScatter::pointClicked);
  QSignalSpy selection(w_.get(), &EmbeddingScatter::selectionChanged);
  const int i = 77;
  clickAt(w_.get(), w_->toWidget(w_->position(i)));
  QCOMPARE(clicked.count(), 1);
  QCOMPARE(clicked.first().first().toInt(), i);
  QCOMPARE(selection.count(), 0);  // a click is no lasso

  // A small jitter under the click slop is still a click.
  sendMouse(w_.get(), QEvent::MouseButtonPress, w_->toWidget(w_->position(3)), Qt::LeftButton, Qt::LeftButton);
  sendMouse(w_.get(), QEvent::MouseMove, w_->toWidget(w_->position(3)) + QPointF(1.5, 1), Qt::NoButton,
            Qt::LeftButton);
  sendMouse(w_.get(), QEvent::MouseButtonRelease, w_->toWidget(w_->position(3)) + QPointF(1.5, 1), Qt::LeftButton,
            Qt::NoButton);
  QCOMPARE(clicked.count(), 2);
  QCOMPARE(clicked.last().first().toInt(), 3);
}

void TestEmbeddingScatter::clickOnEmptySpaceAndEscapeClearSelection() {
  showWithClusters();
  QSignalSpy spy(w_.get(), &EmbeddingScatter::selectionChanged);
  w_->setSelection({5, 3, 3, 1000, -2});
  QCOMPARE(w_->selection(), (QVector<int>{3, 5}));
  QCOMPARE(spy.count(), 1);
  w_->setSelection({3, 5});  // unchanged: no signal
  QCOMPARE(spy.count(), 1);

  clickAt(w_.get(), w_->toWidget(QPointF(0, 4)));
  QVERIFY(w_->selection().isEmpty());
  QCOMPARE(spy.count(), 2);

  w_->setSelection({1});
  w_->setFocus();
  QTest::keyClick(w_.get(), Qt::Key_Escape);
  QVERIFY(w_->selection().isEmpty());
  QCOMPARE(spy.count(), 4);
}

void TestEmbeddingScatter::legendClickTogglesAndCtrlClickIsolates() {
  showWithClusters();
  QSignalSpy spy(w_.get(), &EmbeddingScatter::classVisibilityChanged);
  for (int label : {0, 1, 2, -1}) {
    const QRectF r = w_->legendItemRect(label);
    QVERIFY2(!r.isEmpty() && QRectF(w_->rect()).contains(r), qPrintable(QString::number(label)));
  }
  // Top-right: right of the centre, in the upper half.
  QVERIFY(w_->legendItemRect(0).left() > 300 && w_->legendItemRect(0).top() < 100);
  QVERIFY(w_->legendItemRect(7).isEmpty());  // no such class

  QTest::mouseClick(w_.get(), Qt::LeftButton, Qt::NoModifier, w_->legendItemRect(1).center().toPoint());
  QVERIFY(!w_->isClassVisible(1));
  QVERIFY(w_->isClassVisible(0) && w_->isClassVisible(2) && w_->isClassVisible(-1));
  QCOMPARE(spy.count(), 1);
  QCOMPARE(w_->pointAt(w_->toWidget(w_->position(clusters_.indicesOf(1).first()))), -1);

  QTest::mouseClick(w_.get(), Qt::LeftButton, Qt::NoModifier, w_->legendItemRect(1).center().toPoint());
  QVERIFY(w_->isClassVisible(1));
  QCOMPARE(spy.count(), 2);

  QTest::mouseClick(w_.get(), Qt::LeftButton, Qt::ControlModifier, w_->legendItemRect(2).center().toPoint());
  QVERIFY(w_->isClassVisible(2));
  QVERIFY(!w_->isClassVisible(0) && !w_->isClassVisible(1) && !w_->isClassVisible(-1));
  QCOMPARE(spy.count(), 3);

  // Clicking the isolated class again shows everything.
  QTest::mouseClick(w_.get(), Qt::LeftButton, Qt::NoModifier, w_->legendItemRect(2).center().toPoint());
  QVERIFY(w_->isClassVisible(0) && w_->isClassVisible(1) && w_->isClassVisible(2) && w_->isClassVisible(-1));
  QCOMPARE(spy.count(), 4);

  // Double-click isolates too.
  QTest::mouseDClick(w_.get(), Qt::LeftButton, Qt::NoModifier, w_->legendItemRect(0).center().toPoint());
  QTest::mouseRelease(w_.get(), Qt::LeftButton, Qt::NoModifier, w_->legendItemRect(0).center().toPoint());
  QVERIFY(w_->isClassVisible(0) && !w_->isClassVisible(1) && !w_->isClassVisible(2) && !w_->isClassVisible(-1));

  // A legend click neither selects nor starts a lasso.
  QSignalSpy selection(w_.get(), &EmbeddingScatter::selectionChanged);
  QTest::mouseClick(w_.get(), Qt::LeftButton, Qt::NoModifier, w_->legendItemRect(-1).center().toPoint());
  QCOMPARE(selection.count(), 0);
}

void TestEmbeddingScatter::updateLayoutAnimatesAndKeepsFit() {
  showWithClusters();
  auto* animation = w_->findChild<QVariantAnimation*>();
  QVERIFY(animation);
  w_->setSelection({1, 2, 3});
  w_->setClassVisible(2, false);

  // Doubled, shifted and sheared: the view has to change to keep fitting.
  QVector<QPointF> next;
  for (const QPointF& p : clusters_.xy) next.append(QPointF(2 * p.x() + 5 + 0.5 * p.y(), 3 * p.y() - 7));
  const QPointF before = w_->toWidget(next[0]);
  w_->updateLayout(next);
  QCOMPARE(animation->state(), QAbstractAnimation::Running);  // moves, does not jump
  QCOMPARE(w_->position(0), next[0]);                          // the target right away

  QTRY_COMPARE_WITH_TIMEOUT(animation->state(), QAbstractAnimation::Stopped, 2000);
  QVERIFY(w_->followsData());
  for (int i = 0; i < next.size(); ++i) QCOMPARE(w_->position(i), next[i]);
  QVERIFY(allInside(*w_));
  QVERIFY(w_->toWidget(next[0]) != before);
  // Selection and visibility survive a refresh; hit-testing follows the new layout.
  QCOMPARE(w_->selection(), (QVector<int>{1, 2, 3}));
  QVERIFY(!w_->isClassVisible(2));
  for (int i : {0, 60, 199}) QCOMPARE(w_->pointAt(w_->toWidget(w_->position(i))), i);
  QVERIFY(!w_->grab().isNull());

  // A refresh during an animation continues from where the points are drawn.
  w_->updateLayout(clusters_.xy);
  QTest::qWait(50);
  w_->updateLayout(next);
  QTRY_COMPARE_WITH_TIMEOUT(animation->state(), QAbstractAnimation::Stopped, 2000);
  QVERIFY(allInside(*w_));

  // While the user has zoomed, a refresh leaves the view alone.
  w_->zoomBy(2.0, QPointF(300, 200));
  const QPointF zoomed = w_->toWidget(QPointF(1, 1));
  w_->updateLayout(clusters_.xy);
  QTRY_COMPARE_WITH_TIMEOUT(animation->state(), QAbstractAnimation::Stopped, 2000);
  QVERIFY(!w_->followsData());
  QCOMPARE(w_->toWidget(QPointF(1, 1)), zoomed);
}

void TestEmbeddingScatter::updateLayoutWithWrongSizeFallsBack() {
  showWithClusters();
  QVector<QPointF> shorter = clusters_.xy.mid(0, 120);
  QTest::ignoreMessage(QtWarningMsg, QRegularExpression("updateLayout"));
  w_->updateLayout(shorter);
  QCOMPARE(w_->pointCount(), 120);
  QCOMPARE(w_->label(10), 0);
  QCOMPARE(w_->label(60), 1);
  QCOMPARE(w_->className(1), QStringLiteral("cat"));
  QCOMPARE(w_->pointAt(w_->toWidget(w_->position(119))), 119);
  QVERIFY(allInside(*w_));
}

void TestEmbeddingScatter::zoomAndPanStopFollowingUntilReset() {
  showWithClusters();
  const QPointF anchor(150, 300);
  const QPointF under = w_->toData(anchor);
  const double unit = w_->toWidget(QPointF(1, 0)).x() - w_->toWidget(QPointF(0, 0)).x();

  QWheelEvent wheel(anchor, w_->mapToGlobal(anchor), QPoint(), QPoint(0, 120), Qt::NoButton, Qt::NoModifier,
                    Qt::NoScrollPhase, false);
  QApplication::sendEvent(w_.get(), &wheel);
  QVERIFY(!w_->followsData());
  const QPointF still = w_->toWidget(under);  // zoom keeps the point under the cursor
  QVERIFY(std::abs(still.x() - anchor.x()) < 1e-6 && std::abs(still.y() - anchor.y()) < 1e-6);
  QVERIFY(w_->toWidget(QPointF(1, 0)).x() - w_->toWidget(QPointF(0, 0)).x() > unit * 1.1);

  // Right-drag pans by the mouse delta.
  const QPointF origin = w_->toWidget(QPointF(0, 0));
  sendMouse(w_.get(), QEvent::MouseButtonPress, QPointF(300, 200), Qt::RightButton, Qt::RightButton);
  sendMouse(w_.get(), QEvent::MouseMove, QPointF(340, 180), Qt::NoButton, Qt::RightButton);
  sendMouse(w_.get(), QEvent::MouseButtonRelease, QPointF(340, 180), Qt::RightButton, Qt::NoButton);
  const QPointF moved = w_->toWidget(QPointF(0, 0)) - origin;
  QVERIFY(std::abs(moved.x() - 40) < 1e-6 && std::abs(moved.y() + 20) < 1e-6);

  // Keys: 0 resets, + zooms, arrows pan.
  w_->setFocus();
  QTest::keyClick(w_.get(), Qt::Key_0);
  QVERIFY(w_->followsData());
  QVERIFY(allInside(*w_));
  QTest::keyClick(w_.get(), Qt::Key_Plus);
  QVERIFY(!w_->followsData());
  const QPointF before_arrow = w_->toWidget(QPointF(0, 0));
  QTest::keyClick(w_.get(), Qt::Key_Left);
  QVERIFY(w_->toWidget(QPointF(0, 0)).x() > before_arrow.x());

  // Double-click on empty space resets the view.
  QTest::mouseDClick(w_.get(), Qt::LeftButton, Qt::NoModifier, w_->toWidget(QPointF(0, 4)).toPoint());
  QTest::mouseRelease(w_.get(), Qt::LeftButton, Qt::NoModifier, w_->toWidget(QPointF(0, 4)).toPoint());
  QVERIFY(w_->followsData());
  QVERIFY(allInside(*w_));
}

void TestEmbeddingScatter::hoverEmitsAndDrawsCrispThumbnail() {
  showWithClusters();
  QVector<int> asked;
  const QRgb magenta = qRgb(255, 0, 255);
  w_->setThumbnailProvider([&](int index) {
    asked.append(index);
    QImage image(28, 28, QImage::Format_RGB32);  // a checkerboard: smoothing would blur it
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) image.setPixel(x, y, (x + y) % 2 ? magenta : qRgb(0, 0, 0));
    return image;
  });
  QSignalSpy spy(w_.get(), &EmbeddingScatter::pointHovered);
  const int i = 12;
  const QPointF at = w_->toWidget(w_->position(i));
  sendMouse(w_.get(), QEvent::MouseMove, at, Qt::NoButton, Qt::NoButton);
  QCOMPARE(spy.count(), 1);
  QCOMPARE(spy.last().first().toInt(), i);
  QCOMPARE(asked, QVector<int>{i});
  sendMouse(w_.get(), QEvent::MouseMove, at + QPointF(0.2, 0), Qt::NoButton, Qt::NoButton);
  QCOMPARE(spy.count(), 1);  // same point: no new signal, no new thumbnail
  QCOMPARE(asked.size(), 1);

  // 28x28 is enlarged 3x without smoothing: each magenta source pixel becomes exactly 3x3.
  const QImage shot = w_->grab().toImage().convertToFormat(QImage::Format_RGB32);
  int count = 0;
  for (int y = 0; y < shot.height(); ++y)
    for (int x = 0; x < shot.width(); ++x)
      if (shot.pixel(x, y) == magenta) ++count;
  QCOMPARE(count, 28 * 28 / 2 * 9);

  sendMouse(w_.get(), QEvent::MouseMove, w_->toWidget(QPointF(0, 4)), Qt::NoButton, Qt::NoButton);
  QCOMPARE(spy.count(), 2);
  QCOMPARE(spy.last().first().toInt(), -1);

  // A null thumbnail is fine: only the class name shows.
  w_->setThumbnailProvider([](int) { return QImage(); });
  sendMouse(w_.get(), QEvent::MouseMove, w_->toWidget(w_->position(70)), Qt::NoButton, Qt::NoButton);
  QCOMPARE(spy.last().first().toInt(), 70);
  QVERIFY(!w_->grab().isNull());
}

void TestEmbeddingScatter::classColoursAreDistinct() {
  // The first 30 classes and the unlabeled grey differ pairwise by a visible margin.
  QVector<QColor> colours{EmbeddingScatter::classColor(-1)};
  for (int l = 0; l < 30; ++l) colours.append(EmbeddingScatter::classColor(l));
  for (int a = 0; a < colours.size(); ++a) {
    for (int b = a + 1; b < colours.size(); ++b) {
      const int d = std::abs(colours[a].red() - colours[b].red()) + std::abs(colours[a].green() - colours[b].green()) +
                    std::abs(colours[a].blue() - colours[b].blue());
      QVERIFY2(d > 40, qPrintable(QStringLiteral("%1 vs %2").arg(a - 1).arg(b - 1)));
    }
  }
}

void TestEmbeddingScatter::paints70kPointsQuickly() {
  constexpr int kPoints = 70000;
  QVector<QPointF> xy;
  QVector<int> labels;
  QRandomGenerator rng(3);
  for (int i = 0; i < kPoints; ++i) {
    const int label = i % 11 == 10 ? -1 : i % 11;  // ten classes and some unlabeled
    const double a = 2 * kPi * (label + 1) / 11;
    xy.append(QPointF(30 * std::cos(a) + 6 * rng.generateDouble(), 30 * std::sin(a) + 6 * rng.generateDouble()));
    labels.append(label);
  }
  QElapsedTimer timer;
  timer.start();
  w_->setPoints(xy, labels, {});
  const double set_ms = static_cast<double>(timer.nsecsElapsed()) / 1e6;

  timer.restart();
  const QPixmap first = w_->grab();
  const double first_ms = static_cast<double>(timer.nsecsElapsed()) / 1e6;
  QVERIFY(!first.isNull());

  w_->setSelection(QVector<int>{1, 2, 3, 500, 6000});  // the points layer has to be painted again
  timer.restart();
  const QPixmap second = w_->grab();
  const double second_ms = static_cast<double>(timer.nsecsElapsed()) / 1e6;

  timer.restart();
  int found = 0;
  for (int k = 0; k < 1000; ++k) found += w_->pointAt(w_->toWidget(w_->position(k * 70))) == k * 70;
  const double hit_us = static_cast<double>(timer.nsecsElapsed()) / 1e3 / 1000;

  qInfo("70,000 points: setPoints %.1f ms, first grab %.1f ms, repaint grab %.1f ms, pointAt %.1f us each", set_ms,
        first_ms, second_ms, hit_us);
  QVERIFY2(first_ms < 500, qPrintable(QString::number(first_ms)));
  QVERIFY2(second_ms < 500, qPrintable(QString::number(second_ms)));
  QCOMPARE(found, 1000);
  QVERIFY(allInside(*w_));
}

QTEST_MAIN(TestEmbeddingScatter)
#include "test_embedding_scatter.moc"
