// SPDX-License-Identifier: MIT
// mash/pictures: what people look at, written as PNG without a display: plot.h (line plots, e.g.
// loss curves) and render.h (the CPU renderer and the image tiler). Geometry IO is in mash/io.
//
// A small CPU renderer for pictures without a display: z-buffered triangle rasterization with
// Lambert shading (two-sided, so polygon soups look right) and shaded point splats. K views around
// the object side by side in one PNG. Orthographic cameras on a circle at 20° elevation.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace mash::pictures {

struct RenderScene {
    std::vector<double> vertices;             ///< mesh [V*3]
    std::vector<int64_t> triangles;           ///< mesh [F*3]
    std::vector<double> points;               ///< point splats [P*3]
    std::vector<double> point_normals;        ///< optional [P*3] (shading)
    std::vector<unsigned char> point_colors;  ///< optional [P*3]
    std::array<unsigned char, 3> mesh_color{170, 190, 215};
};

struct RenderOptions {
    int width = 480, height = 480;  ///< per view
    int views = 4;
    double elevation_deg = 20.0;
    double azimuth_offset_deg = 30.0;
    double point_radius_px = 1.2;
};

/// Renders into an RGB buffer of (width*views) x height. Returns the pixels row-major.
std::vector<unsigned char> render_views(const RenderScene& scene, const RenderOptions& options);
/// Renders and writes a PNG atomically.
void render_png(const std::string& path, const RenderScene& scene, const RenderOptions& options);
/// Writes an RGB buffer as PNG atomically (used by render_png and image grids).
void write_png(const std::string& path, const std::vector<unsigned char>& rgb, int width, int height);

/// A distinct colour for an integer id (patch colouring).
std::array<unsigned char, 3> id_color(int64_t id);

/// Tiles RGB images of w×h, `columns` per row, row-major, on white; sets the grid's size.
std::vector<unsigned char> tile_images(const std::vector<std::vector<unsigned char>>& images, int w, int h, int columns,
                                       int& grid_w, int& grid_h);

}  // namespace mash::pictures
