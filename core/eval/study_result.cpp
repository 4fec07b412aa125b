#include "core/eval/study_result.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <locale>
#include <map>
#include <sstream>

#include "core/experiment/config.h"
#include "core/exchange/embedding_export.h"
#include "core/base/error.h"

namespace studio {

namespace {

using Json = nlohmann::json;

// Locale-independent number text (the studio runs under Qt, which sets the C locale from the
// environment: printf("%f") could write a decimal comma into an SVG).
std::string number(double v, int precision = 6) {
  std::ostringstream out;
  out.imbue(std::locale::classic());
  out.precision(precision);
  out << v;
  return out.str();
}

std::string fixed(double v, int decimals) {
  std::ostringstream out;
  out.imbue(std::locale::classic());
  out.setf(std::ios::fixed);
  out.precision(decimals);
  out << v;
  return out.str();
}

std::string xmlEscape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string percentOf(double fraction) {
  return fraction >= 0.1 ? fixed(100 * fraction, 0) + "%" : fixed(100 * fraction, 1) + "%";
}

template <class T>
T field(const Json& j, const char* key, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) throwBadInput("study JSON: " + where + " has no \"" + key + "\"");
  try {
    return j.at(key).get<T>();
  } catch (const Json::exception&) {
    throwBadInput("study JSON: " + where + " has a malformed \"" + key + "\"");
  }
}

// Colour-blind-friendly palette (Okabe-Ito, then Tableau), cycled by arm.
const char* kPalette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00",
                          "#56B4E9", "#000000", "#F0E442", "#8C564B", "#7F7F7F"};

}  // namespace

std::vector<std::string> studyArms(const StudyResult& result) {
  std::vector<std::string> arms;
  for (const auto& c : result.cells)
    if (std::find(arms.begin(), arms.end(), c.arm) == arms.end()) arms.push_back(c.arm);
  return arms;
}

void meanAndSpread(const std::vector<double>& values, double& mean, double& std) {
  mean = 0;
  std = 0;
  if (values.empty()) return;
  for (const double v : values) mean += v;
  mean /= static_cast<double>(values.size());
  if (values.size() < 2) return;
  double squares = 0;
  for (const double v : values) squares += (v - mean) * (v - mean);
  std = std::sqrt(squares / static_cast<double>(values.size() - 1));
}

std::string studyToJson(const StudyResult& result) {
  Json cells = Json::array();
  for (const auto& c : result.cells) {
    cells.push_back({{"arm", c.arm},
                     {"representation", c.representation},
                     {"classifier", c.classifier},
                     {"label_fraction", c.label_fraction},
                     {"labeled_images", c.labeled_images},
                     {"top1", c.top1},
                     {"top1_mean", c.mean},
                     {"top1_std", c.std},
                     {"per_class_accuracy", c.per_class_accuracy},
                     {"confusion", c.confusion},
                     {"expected_calibration_error",
                      c.expected_calibration_error < 0 ? Json(nullptr) : Json(c.expected_calibration_error)}});
  }
  const Json j = {{"title", result.title},           {"class_names", result.class_names},
                  {"train_images", result.train_images}, {"test_images", result.test_images},
                  {"seeds", result.seeds},           {"cells", cells}};
  return j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

StudyResult studyFromJson(const std::string& text) {
  Json j;
  try {
    j = Json::parse(text);
  } catch (const Json::parse_error& e) {
    throwBadInput(std::string("study JSON: not valid JSON (") + e.what() + ")");
  }
  StudyResult r;
  r.title = field<std::string>(j, "title", "the study");
  r.class_names = field<std::vector<std::string>>(j, "class_names", "the study");
  r.train_images = field<int64_t>(j, "train_images", "the study");
  r.test_images = field<int64_t>(j, "test_images", "the study");
  r.seeds = field<int64_t>(j, "seeds", "the study");
  const Json cells = field<Json>(j, "cells", "the study");
  if (!cells.is_array()) throwBadInput("study JSON: \"cells\" is not an array");
  const size_t classes = r.class_names.size();
  for (size_t i = 0; i < cells.size(); ++i) {
    const std::string where = "cell " + std::to_string(i);
    const Json& cj = cells[i];
    StudyCell c;
    c.arm = field<std::string>(cj, "arm", where);
    c.representation = field<std::string>(cj, "representation", where);
    c.classifier = field<std::string>(cj, "classifier", where);
    c.label_fraction = field<double>(cj, "label_fraction", where);
    c.labeled_images = field<int64_t>(cj, "labeled_images", where);
    c.top1 = field<std::vector<double>>(cj, "top1", where);
    c.mean = field<double>(cj, "top1_mean", where);
    c.std = field<double>(cj, "top1_std", where);
    c.per_class_accuracy = field<std::vector<double>>(cj, "per_class_accuracy", where);
    c.confusion = field<std::vector<int64_t>>(cj, "confusion", where);
    const Json& ece = cj.contains("expected_calibration_error") ? cj.at("expected_calibration_error") : Json(nullptr);
    c.expected_calibration_error = ece.is_number() ? ece.get<double>() : -1.0;
    if (!(c.label_fraction > 0 && c.label_fraction <= 1))
      throwBadInput("study JSON: " + where + " has label_fraction " + number(c.label_fraction) + " outside (0, 1]");
    if (c.per_class_accuracy.size() != classes || c.confusion.size() != classes * classes)
      throwBadInput("study JSON: " + where + " has " + std::to_string(c.per_class_accuracy.size()) +
                    " per-class accuracies and " + std::to_string(c.confusion.size()) + " confusion entries for " +
                    std::to_string(classes) + " classes");
    r.cells.push_back(std::move(c));
  }
  return r;
}

void writeStudyCsv(const std::string& path, const StudyResult& result) {
  size_t seeds = 0;
  for (const auto& c : result.cells) seeds = std::max(seeds, c.top1.size());
  std::vector<std::string> header = {"arm",        "representation", "classifier", "label_fraction", "labeled_images",
                                     "seeds",      "top1_mean",      "top1_std",   "ece"};
  for (size_t s = 0; s < seeds; ++s) header.push_back("top1_seed" + std::to_string(s));
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : result.cells) {
    std::vector<std::string> row = {c.arm,
                                    c.representation,
                                    c.classifier,
                                    number(c.label_fraction),
                                    std::to_string(c.labeled_images),
                                    std::to_string(c.top1.size()),
                                    number(c.mean),
                                    number(c.std),
                                    c.expected_calibration_error < 0 ? "" : number(c.expected_calibration_error)};
    for (size_t s = 0; s < seeds; ++s) row.push_back(s < c.top1.size() ? number(c.top1[s]) : "");
    rows.push_back(std::move(row));
  }
  writeCsv(path, header, rows);
}

std::string studyTable(const StudyResult& result) {
  size_t width = 10;
  for (const auto& c : result.cells) width = std::max(width, c.arm.size());
  std::ostringstream out;
  out.imbue(std::locale::classic());
  char line[512];
  std::snprintf(line, sizeof line, "%-*s %7s %8s  %-18s %s\n", static_cast<int>(width), "arm", "labels", "images",
                "top-1 (mean +- sd)", "ECE");
  out << line;
  for (const auto& c : result.cells) {
    const std::string accuracy = fixed(100 * c.mean, 2) + "% +- " + fixed(100 * c.std, 2);
    const std::string ece = c.expected_calibration_error < 0 ? "-" : fixed(c.expected_calibration_error, 3);
    std::snprintf(line, sizeof line, "%-*s %7s %8lld  %-18s %s\n", static_cast<int>(width), c.arm.c_str(),
                  percentOf(c.label_fraction).c_str(), static_cast<long long>(c.labeled_images), accuracy.c_str(),
                  ece.c_str());
    out << line;
  }
  return out.str();
}

std::string studySvg(const StudyResult& result, int width, int height) {
  if (width < 200 || height < 150)
    throwBadInput("study plot: " + std::to_string(width) + " x " + std::to_string(height) +
                  " pixels is too small (at least 200 x 150)");
  const auto arms = studyArms(result);
  const double left = 64, right = std::min(260.0, width * 0.36), top = 40, bottom = 52;
  const double plot_w = width - left - right, plot_h = height - top - bottom;

  double x_lo = 1, x_hi = 10, y_lo = 0, y_hi = 1;
  bool first = true;
  for (const auto& c : result.cells) {
    const double x = static_cast<double>(std::max<int64_t>(1, c.labeled_images));
    const double lo = c.mean - c.std, hi = c.mean + c.std;
    if (first) {
      x_lo = x_hi = x;
      y_lo = lo;
      y_hi = hi;
      first = false;
    }
    x_lo = std::min(x_lo, x);
    x_hi = std::max(x_hi, x);
    y_lo = std::min(y_lo, lo);
    y_hi = std::max(y_hi, hi);
  }
  // Log x with a margin either side; y in percent, widened to whole tens.
  const double lx_lo = std::log10(x_lo) - 0.15, lx_hi = std::log10(std::max(x_hi, x_lo * 1.01)) + 0.15;
  double py_lo = std::floor(std::max(0.0, 100 * y_lo - 2) / 10) * 10;
  double py_hi = std::ceil(std::min(100.0, 100 * y_hi + 2) / 10) * 10;
  if (py_hi - py_lo < 10) py_hi = std::min(100.0, py_lo + 10);
  if (py_hi - py_lo < 10) py_lo = py_hi - 10;
  const auto sx = [&](double images) {
    return left + (std::log10(std::max(1.0, images)) - lx_lo) / (lx_hi - lx_lo) * plot_w;
  };
  const auto sy = [&](double accuracy) { return top + (1 - (100 * accuracy - py_lo) / (py_hi - py_lo)) * plot_h; };

  std::ostringstream svg;
  svg.imbue(std::locale::classic());
  svg << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" viewBox=\"0 0 " << width << ' ' << height << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  const std::string title = result.title.empty() ? "Label efficiency" : "Label efficiency: " + result.title;
  svg << "<text x=\"" << left << "\" y=\"22\" font-size=\"14\" font-weight=\"bold\">" << xmlEscape(title)
      << "</text>\n";
  // Grid and ticks: y every 10 (or 5) points, x at 1, 2, 5 x 10^k within range.
  const double y_step = py_hi - py_lo > 40 ? 10 : 5;
  for (double v = py_lo; v <= py_hi + 1e-9; v += y_step) {
    const double y = sy(v / 100);
    svg << "<line x1=\"" << left << "\" y1=\"" << number(y) << "\" x2=\"" << left + plot_w << "\" y2=\"" << number(y)
        << "\" stroke=\"#e0e0e0\"/>\n<text x=\"" << left - 8 << "\" y=\"" << number(y + 4)
        << "\" text-anchor=\"end\">" << fixed(v, 0) << "</text>\n";
  }
  for (int e = static_cast<int>(std::floor(lx_lo)); e <= static_cast<int>(std::ceil(lx_hi)); ++e)
    for (const int m : {1, 2, 5}) {
      const double v = m * std::pow(10.0, e);
      const double lv = std::log10(v);
      if (lv < lx_lo || lv > lx_hi) continue;
      const double x = sx(v);
      svg << "<line x1=\"" << number(x) << "\" y1=\"" << top << "\" x2=\"" << number(x) << "\" y2=\"" << top + plot_h
          << "\" stroke=\"" << (m == 1 ? "#d0d0d0" : "#eeeeee") << "\"/>\n<text x=\"" << number(x) << "\" y=\""
          << top + plot_h + 16 << "\" text-anchor=\"middle\">" << number(v, 6) << "</text>\n";
    }
  svg << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << number(plot_w) << "\" height=\""
      << number(plot_h) << "\" fill=\"none\" stroke=\"#404040\"/>\n";
  svg << "<text x=\"" << number(left + plot_w / 2) << "\" y=\"" << height - 12
      << "\" text-anchor=\"middle\">labelled training images (log scale)</text>\n";
  svg << "<text transform=\"translate(16 " << number(top + plot_h / 2)
      << ") rotate(-90)\" text-anchor=\"middle\">test top-1 accuracy (%)</text>\n";

  for (size_t a = 0; a < arms.size(); ++a) {
    std::vector<const StudyCell*> points;
    for (const auto& c : result.cells)
      if (c.arm == arms[a]) points.push_back(&c);
    std::sort(points.begin(), points.end(),
              [](const StudyCell* l, const StudyCell* r) { return l->labeled_images < r->labeled_images; });
    const std::string colour = kPalette[a % (sizeof kPalette / sizeof kPalette[0])];
    const std::string& classifier = points.front()->classifier;
    const std::string dash = classifier == "linear probe" ? "" : classifier == "kNN" ? "6 4" : "2 3";
    svg << "<g class=\"series\" data-arm=\"" << xmlEscape(arms[a]) << "\">\n<polyline fill=\"none\" stroke=\""
        << colour << "\" stroke-width=\"2\"" << (dash.empty() ? "" : " stroke-dasharray=\"" + dash + "\"")
        << " points=\"";
    for (const auto* c : points)
      svg << number(sx(static_cast<double>(c->labeled_images))) << ',' << number(sy(c->mean)) << ' ';
    svg << "\"/>\n";
    for (const auto* c : points) {
      const double x = sx(static_cast<double>(c->labeled_images));
      if (c->std > 0) {
        const double y0 = sy(c->mean - c->std), y1 = sy(c->mean + c->std);
        svg << "<path d=\"M" << number(x) << ' ' << number(y0) << "V" << number(y1) << "M" << number(x - 4) << ' '
            << number(y0) << "h8M" << number(x - 4) << ' ' << number(y1) << "h8\" stroke=\"" << colour << "\"/>\n";
      }
      svg << "<circle cx=\"" << number(x) << "\" cy=\"" << number(sy(c->mean)) << "\" r=\"3.5\" fill=\"" << colour
          << "\"><title>" << xmlEscape(c->arm) << ", " << c->labeled_images << " labels: " << fixed(100 * c->mean, 2)
          << "% +- " << fixed(100 * c->std, 2) << "</title></circle>\n";
    }
    svg << "</g>\n";
    const double ly = top + 10 + 18 * static_cast<double>(a), lx = left + plot_w + 14;
    svg << "<line x1=\"" << number(lx) << "\" y1=\"" << number(ly) << "\" x2=\"" << number(lx + 22) << "\" y2=\""
        << number(ly) << "\" stroke=\"" << colour << "\" stroke-width=\"2\""
        << (dash.empty() ? "" : " stroke-dasharray=\"" + dash + "\"") << "/>\n<text x=\"" << number(lx + 28)
        << "\" y=\"" << number(ly + 4) << "\">" << xmlEscape(arms[a]) << "</text>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace studio
