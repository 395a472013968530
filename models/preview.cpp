// SPDX-License-Identifier: MIT
#include "models/preview.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "mash/io/render.h"
#include "mash/representation/mash.h"

namespace mash::models {

std::vector<double> mash_points(const MashParams& p, int64_t max_points) {
    at::NoGradGuard ng;
    Mash m = make_mash(p, {}, at::TensorOptions().dtype(at::kDouble));
    auto pts = m->forward(true).points().contiguous();
    const int64_t n = pts.size(0);
    const int64_t stride = std::max<int64_t>(1, (n + max_points - 1) / std::max<int64_t>(1, max_points));
    std::vector<double> out;
    const double* d = pts.data_ptr<double>();
    for (int64_t i = 0; i < n; i += stride)
        if (std::isfinite(d[3 * i]) && std::isfinite(d[3 * i + 1]) && std::isfinite(d[3 * i + 2]))
            out.insert(out.end(), d + 3 * i, d + 3 * i + 3);
    return out;
}

void render_mash_grid(const std::string& path, const std::vector<MashParams>& shapes, int views, int size, int columns,
                      int64_t max_points) {
    io::RenderOptions o;
    o.width = o.height = size;
    o.views = views;
    o.point_radius_px = std::max(1.0, size / 300.0);
    const int n = std::max<int>(1, static_cast<int>(shapes.size()));
    const int cols = std::max(1, std::min(columns, n)), rows = (n + cols - 1) / cols;
    const int SW = size * views, GW = SW * cols, GH = size * rows;
    std::vector<unsigned char> grid(size_t(GW) * GH * 3, 255);
    for (int i = 0; i < static_cast<int>(shapes.size()); ++i) {
        io::RenderScene sc;
        sc.points = mash_points(shapes[i], max_points);
        const int64_t A = shapes[i].num_anchors;
        const size_t per = sc.points.size() / 3;
        for (size_t k = 0; k < per; ++k) {
            auto c = io::id_color(static_cast<int64_t>(k * A / std::max<size_t>(1, per)));
            sc.point_colors.insert(sc.point_colors.end(), c.begin(), c.end());
        }
        auto strip = io::render_views(sc, o);
        const int gx = (i % cols) * SW, gy = (i / cols) * size;
        for (int y = 0; y < size; ++y)
            std::copy(strip.begin() + size_t(y) * SW * 3, strip.begin() + size_t(y + 1) * SW * 3,
                      grid.begin() + (size_t(gy + y) * GW + gx) * 3);
    }
    io::write_png(path, grid, GW, GH);
}

}  // namespace mash::models
