// SPDX-License-Identifier: MIT
#include "models/preview.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>

#include "mash/pictures/render.h"
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
    pictures::RenderOptions o;
    o.width = o.height = size;
    o.views = views;
    o.point_radius_px = std::max(1.0, size / 300.0);
    std::vector<std::vector<unsigned char>> strips;
    for (const auto& shape : shapes) {
        pictures::RenderScene sc;
        sc.points = mash_points(shape, max_points);
        const int64_t A = shape.num_anchors;
        const size_t per = sc.points.size() / 3;
        for (size_t k = 0; k < per; ++k) {
            auto c = pictures::id_color(static_cast<int64_t>(k * A / std::max<size_t>(1, per)));
            sc.point_colors.insert(sc.point_colors.end(), c.begin(), c.end());
        }
        strips.push_back(pictures::render_views(sc, o));
    }
    int GW = 0, GH = 0;
    auto grid = pictures::tile_images(strips, size * views, size, columns, GW, GH);
    pictures::write_png(path, grid, GW, GH);
}

}  // namespace mash::models
