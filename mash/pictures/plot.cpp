// SPDX-License-Identifier: MIT
#include "mash/pictures/plot.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "mash/core/errors.h"
#include "mash/core/files.h"
#include "mash/formats/png.h"

namespace mash::pictures {
namespace {

// 5x7 glyphs, one byte per row (low 5 bits, MSB = left). Lower case renders as upper case.
struct Glyph {
    char c;
    unsigned char rows[7];
};
const Glyph kFont[] = {
    {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}},
    {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}},
    {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}},
    {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}},
    {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}},
    {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {'A', {0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11}},
    {'B', {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}},
    {'C', {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}},
    {'D', {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C}},
    {'E', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}},
    {'F', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}},
    {'G', {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}},
    {'H', {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
    {'I', {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'J', {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C}},
    {'K', {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}},
    {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}},
    {'M', {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}},
    {'N', {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}},
    {'O', {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
    {'P', {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}},
    {'Q', {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}},
    {'R', {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}},
    {'S', {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}},
    {'T', {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
    {'U', {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
    {'V', {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04}},
    {'W', {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}},
    {'X', {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11}},
    {'Y', {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04}},
    {'Z', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F}},
    {'.', {0, 0, 0, 0, 0, 0x0C, 0x0C}},
    {'-', {0, 0, 0, 0x1F, 0, 0, 0}},
    {'+', {0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0}},
    {':', {0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0}},
    {'=', {0, 0, 0x1F, 0, 0x1F, 0, 0}},
    {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}},
    {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}},
    {'/', {0, 0x01, 0x02, 0x04, 0x08, 0x10, 0}},
    {'_', {0, 0, 0, 0, 0, 0, 0x1F}},
    {'%', {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}},
    {',', {0, 0, 0, 0, 0x0C, 0x04, 0x08}},
};

struct Canvas {
    int w, h;
    std::vector<unsigned char> px;
    Canvas(int w_, int h_) : w(w_), h(h_), px(size_t(w_) * h_ * 3, 255) {}
    void set(int x, int y, std::array<unsigned char, 3> c) {
        if (x < 0 || y < 0 || x >= w || y >= h) return;
        std::copy(c.begin(), c.end(), px.begin() + (size_t(y) * w + x) * 3);
    }
    void line(double x0, double y0, double x1, double y1, std::array<unsigned char, 3> c, int thick = 1) {
        const int n = int(std::max(std::abs(x1 - x0), std::abs(y1 - y0))) + 1;
        for (int i = 0; i <= n; ++i) {
            const double t = double(i) / n;
            const int x = int(std::lround(x0 + t * (x1 - x0))), y = int(std::lround(y0 + t * (y1 - y0)));
            for (int dx = 0; dx < thick; ++dx)
                for (int dy = 0; dy < thick; ++dy) set(x + dx - thick / 2, y + dy - thick / 2, c);
        }
    }
    void text(int x, int y, const std::string& s, std::array<unsigned char, 3> c = {0, 0, 0}, int scale = 2) {
        for (char ch : s) {
            char u = char(std::toupper(static_cast<unsigned char>(ch)));
            for (const auto& g : kFont) {
                if (g.c != u) continue;
                for (int r = 0; r < 7; ++r)
                    for (int b = 0; b < 5; ++b)
                        if (g.rows[r] & (0x10 >> b))
                            for (int sy = 0; sy < scale; ++sy)
                                for (int sx = 0; sx < scale; ++sx) set(x + b * scale + sx, y + r * scale + sy, c);
            }
            x += 6 * scale;
        }
    }
    static int text_width(const std::string& s, int scale = 2) { return int(s.size()) * 6 * scale; }
};

std::string fmt_tick(double v, bool log_y) {
    char buf[32];
    if (log_y)
        std::snprintf(buf, sizeof buf, "1e%d", int(std::lround(v)));
    else if (std::abs(v) >= 1e4 || (std::abs(v) < 1e-2 && v != 0))
        std::snprintf(buf, sizeof buf, "%.1e", v);
    else
        std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

double nice_step(double range, int target) {
    const double raw = range / std::max(1, target);
    const double mag = std::pow(10.0, std::floor(std::log10(raw)));
    for (double m : {1.0, 2.0, 5.0, 10.0})
        if (m * mag >= raw) return m * mag;
    return 10 * mag;
}

}  // namespace

void write_line_plot_png(const std::string& path, const std::vector<PlotSeries>& series, const PlotOptions& o) {
    auto ty = [&](double y) { return o.log_y ? std::log10(y) : y; };
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (const auto& s : series)
        for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
            if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i]) || (o.log_y && s.y[i] <= 0)) continue;
            xmin = std::min(xmin, s.x[i]);
            xmax = std::max(xmax, s.x[i]);
            ymin = std::min(ymin, ty(s.y[i]));
            ymax = std::max(ymax, ty(s.y[i]));
        }
    if (!std::isfinite(xmin)) throw IoError(path + ": nothing to plot (no finite values)");
    if (xmax == xmin) xmax = xmin + 1;
    if (o.log_y) {
        ymin = std::floor(ymin);
        ymax = std::ceil(ymax);
    }
    if (ymax == ymin) ymax = ymin + 1;
    Canvas cv(o.width, o.height);
    const int L = 110, R = o.width - 30, T = 50, B = o.height - 60;
    auto X = [&](double x) { return L + (x - xmin) / (xmax - xmin) * (R - L); };
    auto Y = [&](double y) { return B - (ty(y) - ymin) / (ymax - ymin) * (B - T); };
    const std::array<unsigned char, 3> grid{225, 225, 225}, black{0, 0, 0};
    // y grid and labels
    const double ystep = o.log_y ? std::max(1.0, std::ceil((ymax - ymin) / 8)) : nice_step(ymax - ymin, 6);
    for (double v = std::ceil(ymin / ystep) * ystep; v <= ymax + 1e-9; v += ystep) {
        const double py = B - (v - ymin) / (ymax - ymin) * (B - T);
        cv.line(L, py, R, py, grid);
        std::string lab = fmt_tick(v, o.log_y);
        cv.text(L - 10 - Canvas::text_width(lab), int(py) - 7, lab);
    }
    const double xstep = nice_step(xmax - xmin, 8);
    for (double v = std::ceil(xmin / xstep) * xstep; v <= xmax + 1e-9; v += xstep) {
        const double px = X(v);
        cv.line(px, T, px, B, grid);
        std::string lab = fmt_tick(v, false);
        cv.text(int(px) - Canvas::text_width(lab) / 2, B + 10, lab);
    }
    cv.line(L, B, R, B, black, 2);
    cv.line(L, T, L, B, black, 2);
    cv.text(L, 6, o.title, black, 3);
    cv.text((L + R) / 2 - Canvas::text_width(o.x_label) / 2, B + 35, o.x_label);
    if (!o.y_label.empty()) cv.text(10, T - 18, o.y_label);
    int ly = T + 10;
    for (const auto& s : series) {
        bool have = false;
        double px = 0, py = 0;
        for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
            if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i]) || (o.log_y && s.y[i] <= 0)) {
                have = false;
                continue;
            }
            const double nx = X(s.x[i]), ny = Y(s.y[i]);
            if (have)
                cv.line(px, py, nx, ny, s.color, 2);
            else
                cv.set(int(nx), int(ny), s.color);
            px = nx;
            py = ny;
            have = true;
        }
        const int lx = R - 20 - Canvas::text_width(s.name) - 40;
        cv.line(lx, ly + 7, lx + 30, ly + 7, s.color, 3);
        cv.text(lx + 38, ly, s.name);
        ly += 22;
    }
    write_file_atomic(path, formats::encode_png_rgb(cv.px, o.width, o.height));
}

}  // namespace mash::pictures
