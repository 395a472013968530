// SPDX-License-Identifier: MIT
#include "mash/pictures/render.h"

#include <unistd.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include "mash/core/errors.h"
#include "mash/core/files.h"
#include "mash/formats/png.h"

namespace mash::pictures {

std::array<unsigned char, 3> id_color(int64_t id) {
    // Golden-ratio hue walk, fixed saturation/value.
    double h = std::fmod(0.137 + 0.61803398875 * double(id), 1.0) * 6.0;
    double s = 0.55, v = 0.95;
    int i = int(h);
    double f = h - i, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    double r, g, b;
    switch (i % 6) {
        case 0:
            r = v, g = t, b = p;
            break;
        case 1:
            r = q, g = v, b = p;
            break;
        case 2:
            r = p, g = v, b = t;
            break;
        case 3:
            r = p, g = q, b = v;
            break;
        case 4:
            r = t, g = p, b = v;
            break;
        default:
            r = v, g = p, b = q;
            break;
    }
    return {static_cast<unsigned char>(r * 255), static_cast<unsigned char>(g * 255), static_cast<unsigned char>(b * 255)};
}

std::vector<unsigned char> render_views(const RenderScene& sc, const RenderOptions& o) {
    const int W = o.width, H = o.height, K = std::max(1, o.views);
    std::vector<unsigned char> img(size_t(W) * K * H * 3, 255);
    // Bounding sphere of everything.
    Eigen::Vector3d lo = Eigen::Vector3d::Constant(INFINITY), hi = Eigen::Vector3d::Constant(-INFINITY);
    auto grow = [&](const std::vector<double>& v) {
        for (size_t i = 0; i + 2 < v.size(); i += 3) {
            Eigen::Vector3d p(v[i], v[i + 1], v[i + 2]);
            lo = lo.cwiseMin(p);
            hi = hi.cwiseMax(p);
        }
    };
    grow(sc.vertices);
    grow(sc.points);
    if (!std::isfinite(lo.x())) throw InputError("render: nothing to draw (no vertices or points)");
    const Eigen::Vector3d c = 0.5 * (lo + hi);
    const double radius = std::max(1e-12, 0.5 * (hi - lo).norm());
    const double scale = 0.47 * std::min(W, H) / radius;
    const Eigen::Vector3d light_dir = Eigen::Vector3d(-0.4, 0.8, 0.45).normalized();
    for (int k = 0; k < K; ++k) {
        const double az = (o.azimuth_offset_deg + 360.0 * k / K) * M_PI / 180.0, el = o.elevation_deg * M_PI / 180.0;
        // Camera looks along -fwd; y is up.
        Eigen::Vector3d fwd(std::cos(el) * std::sin(az), std::sin(el), std::cos(el) * std::cos(az));
        Eigen::Vector3d right = Eigen::Vector3d::UnitY().cross(fwd).normalized();
        Eigen::Vector3d up = fwd.cross(right);
        // Light fixed relative to the camera so every view is lit alike.
        Eigen::Vector3d light = (light_dir.x() * right + light_dir.y() * up + light_dir.z() * fwd).normalized();
        std::vector<float> zbuf(size_t(W) * H, -std::numeric_limits<float>::infinity());
        auto project = [&](const double* p, double* sx, double* sy, double* depth) {
            Eigen::Vector3d d(p[0] - c.x(), p[1] - c.y(), p[2] - c.z());
            *sx = W * 0.5 + d.dot(right) * scale;
            *sy = H * 0.5 - d.dot(up) * scale;
            *depth = d.dot(fwd);
        };
        auto put = [&](int x, int y, double depth, std::array<unsigned char, 3> col) {
            if (x < 0 || y < 0 || x >= W || y >= H) return;
            float& z = zbuf[size_t(y) * W + x];
            if (depth <= z) return;
            z = float(depth);
            unsigned char* px = &img[(size_t(y) * W * K + size_t(k) * W + x) * 3];
            px[0] = col[0];
            px[1] = col[1];
            px[2] = col[2];
        };
        auto shade = [&](std::array<unsigned char, 3> base, double lambert) {
            double f = 0.28 + 0.72 * std::clamp(lambert, 0.0, 1.0);
            return std::array<unsigned char, 3>{static_cast<unsigned char>(base[0] * f), static_cast<unsigned char>(base[1] * f),
                                                static_cast<unsigned char>(base[2] * f)};
        };
        // Triangles.
        const auto& V = sc.vertices;
        for (size_t f = 0; f + 2 < sc.triangles.size(); f += 3) {
            const int64_t ia = sc.triangles[f], ib = sc.triangles[f + 1], ic = sc.triangles[f + 2];
            Eigen::Vector3d a(&V[3 * ia]), b(&V[3 * ib]), cc(&V[3 * ic]);
            Eigen::Vector3d n = (b - a).cross(cc - a);
            if (n.norm() == 0) continue;
            n.normalize();
            if (n.dot(fwd) < 0) n = -n;  // two-sided
            auto col = shade(sc.mesh_color, n.dot(light));
            double x[3], y[3], z[3];
            project(&V[3 * ia], &x[0], &y[0], &z[0]);
            project(&V[3 * ib], &x[1], &y[1], &z[1]);
            project(&V[3 * ic], &x[2], &y[2], &z[2]);
            const double area = (x[1] - x[0]) * (y[2] - y[0]) - (x[2] - x[0]) * (y[1] - y[0]);
            if (std::abs(area) < 1e-12) continue;
            const int x0 = std::max(0, int(std::floor(std::min({x[0], x[1], x[2]})))),
                      x1 = std::min(W - 1, int(std::ceil(std::max({x[0], x[1], x[2]})))),
                      y0 = std::max(0, int(std::floor(std::min({y[0], y[1], y[2]})))),
                      y1 = std::min(H - 1, int(std::ceil(std::max({y[0], y[1], y[2]}))));
            for (int py = y0; py <= y1; ++py)
                for (int px = x0; px <= x1; ++px) {
                    const double qx = px + 0.5, qy = py + 0.5;
                    double w0 = ((x[1] - qx) * (y[2] - qy) - (x[2] - qx) * (y[1] - qy)) / area;
                    double w1 = ((x[2] - qx) * (y[0] - qy) - (x[0] - qx) * (y[2] - qy)) / area;
                    double w2 = 1 - w0 - w1;
                    if (w0 < 0 || w1 < 0 || w2 < 0) continue;
                    put(px, py, w0 * z[0] + w1 * z[1] + w2 * z[2], col);
                }
        }
        // Point splats.
        const int r = std::max(0, int(std::ceil(o.point_radius_px)));
        for (size_t i = 0; i + 2 < sc.points.size(); i += 3) {
            double sx, sy, d;
            project(&sc.points[i], &sx, &sy, &d);
            std::array<unsigned char, 3> base{90, 120, 200};
            if (sc.point_colors.size() == sc.points.size())
                base = {sc.point_colors[i], sc.point_colors[i + 1], sc.point_colors[i + 2]};
            double lambert = 0.6 + 0.4 * (d / radius);  // depth cue without normals
            if (sc.point_normals.size() == sc.points.size()) {
                Eigen::Vector3d n(&sc.point_normals[i]);
                if (n.norm() > 0) lambert = std::abs(n.normalized().dot(light));
            }
            auto col = shade(base, lambert);
            for (int dy = -r; dy <= r; ++dy)
                for (int dx = -r; dx <= r; ++dx)
                    if (dx * dx + dy * dy <= o.point_radius_px * o.point_radius_px + 0.5) put(int(sx) + dx, int(sy) + dy, d, col);
        }
    }
    return img;
}

void write_png(const std::string& path, const std::vector<unsigned char>& rgb, int width, int height) {
    write_file_atomic(path, formats::encode_png_rgb(rgb, width, height));
}

void render_png(const std::string& path, const RenderScene& scene, const RenderOptions& o) {
    write_png(path, render_views(scene, o), o.width * std::max(1, o.views), o.height);
}

std::vector<unsigned char> tile_images(const std::vector<std::vector<unsigned char>>& images, int w, int h, int columns,
                                       int& grid_w, int& grid_h) {
    const int n = std::max<int>(1, static_cast<int>(images.size()));
    const int cols = std::max(1, std::min(columns, n)), rows = (n + cols - 1) / cols;
    grid_w = w * cols;
    grid_h = h * rows;
    std::vector<unsigned char> grid(size_t(grid_w) * grid_h * 3, 255);
    for (int i = 0; i < static_cast<int>(images.size()); ++i) {
        const int gx = (i % cols) * w, gy = (i / cols) * h;
        for (int y = 0; y < h; ++y)
            std::copy(images[i].begin() + size_t(y) * w * 3, images[i].begin() + size_t(y + 1) * w * 3,
                      grid.begin() + (size_t(gy + y) * grid_w + gx) * 3);
    }
    return grid;
}

}  // namespace mash::pictures
