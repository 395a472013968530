// SPDX-License-Identifier: MIT
// Minimal line plots written as PNG (no display, no Python): axes, ticks with labels (built-in
// 5x7 font), optional log-scale y, a legend. Used for loss curves.
#pragma once
#include <array>
#include <string>
#include <vector>

namespace mash::pictures {

struct PlotSeries {
    std::string name;
    std::vector<double> x, y;
    std::array<unsigned char, 3> color{31, 119, 180};
};

struct PlotOptions {
    std::string title;
    std::string x_label = "step";
    std::string y_label;
    bool log_y = true;
    int width = 960, height = 540;
};

/// Writes the plot atomically. Non-finite or (for log_y) non-positive values are skipped.
/// Throws IoError on write failure or if no series has a plottable point.
void write_line_plot_png(const std::string& path, const std::vector<PlotSeries>& series, const PlotOptions& options);

}  // namespace mash::pictures
