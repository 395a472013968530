// SPDX-License-Identifier: MIT
// `mash mesh`, `mash eval`, `mash render`.
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "mash/core/errors.h"
#include "mash/core/files.h"
#include "mash/io/geometry_io.h"
#include "mash/io/mash_file.h"
#include "mash/losses/losses.h"
#include "mash/mesh/extract.h"
#include "mash/mesh/procedural.h"
#include "mash/mesh/thin_parts.h"
#include "mash/pictures/render.h"
#include "mash/representation/mash.h"
#include "scripts/cli/commands.h"

namespace mash::cli {
namespace fs = std::filesystem;
namespace {

/// Points (+ normals when the geometry defines them) of any supported file.
struct Geometry {
    std::vector<double> points, normals;
    std::string kind;  // "mash", "mesh", "points"
};

void random_subset(Geometry& g, int64_t n, uint64_t seed) {
    io::PointCloud pc;
    pc.points = std::move(g.points);
    pc.normals = std::move(g.normals);
    io::random_subset(pc, n, seed);
    g.points = std::move(pc.points);
    g.normals = std::move(pc.normals);
}

Geometry load_geometry(const std::string& path, int64_t n, uint64_t seed) {
    Geometry g;
    if (io::is_mash_file(path)) {
        auto s = mesh::patch_samples(io::load_mash(path), 48, 32);
        g.points = std::move(s.points);
        g.normals = std::move(s.normals);
        g.kind = "mash";
        random_subset(g, n, seed);
        return g;
    }
    io::PointCloud pc = io::load_points(path, n, seed);
    g.points = std::move(pc.points);
    g.normals = std::move(pc.normals);
    g.kind = pc.from_mesh ? "mesh" : "points";
    random_subset(g, n, seed);
    return g;
}

at::Tensor to_tensor(const std::vector<double>& v) {
    return at::from_blob(const_cast<double*>(v.data()), {int64_t(v.size() / 3), 3}, at::TensorOptions().dtype(at::kDouble))
        .clone();
}

std::vector<double> parse_taus(const std::string& s) {
    std::vector<double> out;
    size_t start = 0;
    while (start <= s.size()) {
        size_t end = s.find(',', start);
        std::string tok = s.substr(start, end == std::string::npos ? std::string::npos : end - start);
        try {
            size_t used = 0;
            double v = std::stod(tok, &used);
            if (used != tok.size() || !(v > 0)) throw std::invalid_argument("bad");
            out.push_back(v);
        } catch (const std::exception&) {
            throw ConfigError("--tau '" + s + "': expected positive numbers separated by commas");
        }
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return out;
}

}  // namespace

#ifndef MASH_WITHOUT_OPEN3D
namespace {

/// --from-points: the file's points with its own normals (checked against an oriented PCA
/// estimate) or oriented PCA normals.
void oriented_points_from_file(const MeshArgs& a, mesh::OrientMethod method, std::vector<double>& pts, std::vector<double>& nrm) {
    io::PointCloud pc = io::load_points(a.input, a.num_points > 0 ? a.num_points : 100000, 0);
    pts = pc.points;
    // A point file's own normals (PLY nx ny nz, XYZN, PCD normal_*) are used; a mesh's
    // sampled face normals are not (their winding may be inconsistent).
    std::vector<double> given = pc.from_mesh ? std::vector<double>() : pc.normals;
    if (const int64_t dups = mesh::remove_duplicate_points(pts, &given))
        spdlog::info("mesh: {} repeated points of {} removed", dups, a.input);
    if (const std::string bad = mesh::degenerate_cloud(pts); !bad.empty())
        throw InputError(a.input + ": " + bad + " (expected at least 10 points spanning a surface)");
    const int64_t P = int64_t(pts.size() / 3);
    bool usable = given.size() == pts.size();
    for (int64_t i = 0; usable && i < P; ++i) {
        const double* n = &given[size_t(3 * i)];
        const double l = std::sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
        if (!(l > 1e-12) || !std::isfinite(l))
            usable = false;
        else
            for (int k = 0; k < 3; ++k) given[size_t(3 * i + k)] /= l;
    }
    if (!given.empty() && !usable) spdlog::info("mesh: {} has zero or non-finite normals; estimating normals instead", a.input);
    nrm = mesh::oriented_normals_for_cloud(pts, 30, method);
    const std::string how = fmt::format(
        "PCA normals oriented by {}{}", method == mesh::OrientMethod::winding ? "winding numbers" : "tangent-plane propagation",
        P > mesh::kMaxOrientedPoints
            ? fmt::format(" on an FPS subset of {} (the other points take its signs)", mesh::kMaxOrientedPoints)
            : std::string());
    if (usable) {
        // The file's normals, checked against our own orientation: flipped as a whole if most
        // point the other way; a note if a notable share disagrees.
        int64_t against = 0;
        for (int64_t i = 0; i < P; ++i) {
            double d = 0;
            for (int k = 0; k < 3; ++k) d += given[size_t(3 * i + k)] * nrm[size_t(3 * i + k)];
            against += d < 0;
        }
        const double frac = double(against) / double(P);
        if (frac > 0.5) {
            for (double& x : given) x = -x;
            spdlog::info("mesh: the normals of {} point inward on {:.0f}% of the points (against {}): flipped", a.input,
                         100 * frac, how);
        } else if (frac > 0.05) {
            spdlog::info("mesh: the normals of {} disagree with {} on {:.1f}% of the points; the file's normals are used",
                         a.input, how, 100 * frac);
        }
        nrm = std::move(given);
        spdlog::info("mesh: {} points with the file's normals", P);
    } else {
        spdlog::info("mesh: {} points, {}", P, how);
    }
}

/// A MASH's oriented samples: its own samples with PCA normals, or its patch normals.
void oriented_samples_from_mash(const MeshArgs& a, mesh::OrientMethod method, std::vector<double>& pts,
                                std::vector<double>& nrm) {
    MashParams p = io::load_mash(a.input);
    mesh::MashSurfaceOptions so;
    so.normals = mesh::parse_normal_source(a.normals);
    so.orient = method;
    so.grid_phi = a.grid_phi;
    so.grid_theta = a.grid_theta;
    if (a.num_points > 0 && so.normals == mesh::NormalSource::points) so.num_points = a.num_points;
    if (a.num_points > 0 && so.normals == mesh::NormalSource::patches) {
        // choose the per-patch grid so that A·P·T ≈ N (T = 2P/3)
        so.grid_phi = std::max<int64_t>(3, int64_t(std::lround(std::sqrt(1.5 * double(a.num_points) / double(p.num_anchors)))));
        so.grid_theta = mesh::MashSurfaceOptions::polar_for(so.grid_phi);
    }
    mesh::OrientReport rep;
    auto s = mesh::mash_oriented_samples(p, so, &rep);
    for (const auto& [stage, secs] : rep.stages) spdlog::debug("mesh: {}: {:.2f}s", stage, secs);
    const int64_t S = int64_t(s.points.size() / 3);
    if (so.normals == mesh::NormalSource::points)
        spdlog::info("mesh: {} samples of the MASH ({} anchors; FPS from {}), PCA normals oriented by {}", S, p.num_anchors,
                     s.sampled, method == mesh::OrientMethod::winding ? "winding numbers" : "tangent-plane propagation");
    else if (method == mesh::OrientMethod::winding)
        spdlog::info(
            "mesh: {} samples from {} patches on {} sheets, patch normals oriented by winding numbers: "
            "field constancy {:.3f} ({:.3f} with the graph signs; {} sheets differ), mean w on the surface "
            "{:.3f}",
            S, p.num_anchors, rep.sheets, rep.objective, rep.objective_graph, rep.changed_from_graph, rep.mean_winding);
    else
        spdlog::info("mesh: {} samples from {} patches, patch normals oriented by the patch graph", S, p.num_anchors);
    pts = std::move(s.points);
    nrm = std::move(s.normals);
}

}  // namespace

int run_mesh(const MeshArgs& a) {
    apply_global_flags(a.global);
    const std::string e = lower_extension(a.output);
    if (e != ".ply" && e != ".obj" && e != ".off" && e != ".stl")
        throw IoError(a.output + ": unsupported mesh output extension '" + e + "' (expected .ply .obj .off .stl)");
    if (a.depth < 4 || a.depth > 12) throw ConfigError("--depth " + std::to_string(a.depth) + ": expected 4..12");
    const auto method = mesh::parse_orient_method(a.orient);
    auto t0 = std::chrono::steady_clock::now();
    std::vector<double> pts, nrm;
    if (a.from_points)
        oriented_points_from_file(a, method, pts, nrm);
    else
        oriented_samples_from_mash(a, method, pts, nrm);
    mesh::PoissonOptions po;
    po.depth = a.depth;
    po.trim_quantile = a.trim;
    po.thin_offset_voxels = a.thin_offset;
    po.open_membrane = a.open_membrane;
    po.cell_voxels = a.cell_voxels;
    std::vector<std::pair<std::string, double>> stages;
    mesh::PoissonReport prep;
    auto m = mesh::poisson(pts, nrm, po, &stages, &prep);
    for (const auto& [stage, secs] : stages) spdlog::debug("mesh: {}: {:.2f}s", stage, secs);
    if (po.thin_offset_voxels > 0)
        spdlog::info(
            "mesh: {} of {} samples do not bound a solid (open sheets, thin walls; {:.1f} %): "
            "thickened to ± {} Poisson voxels",
            prep.thin_samples, pts.size() / 3, 100.0 * double(prep.thin_samples) / double(std::max<size_t>(1, pts.size() / 3)),
            po.thin_offset_voxels);
    if (prep.open_sheet)
        spdlog::info(
            "mesh: {:.0f} % of the winding field's ½-level set lies away from the samples (a membrane "
            "across an open sheet's opening): thin step at threshold {:.2f} instead of {} ({:.0f} % left)",
            100.0 * prep.membrane_first, prep.threshold, mesh::ThinOptions{}.threshold, 100.0 * prep.membrane);
    if (po.cell_voxels > 0)
        spdlog::debug("mesh: {} oriented samples to Poisson (one per {}-voxel cell and side)", prep.poisson_samples,
                      po.cell_voxels);
    if (po.thin_offset_voxels > 0)
        spdlog::debug(
            "mesh: ½-level set away from the samples {:.1f} % (open-sheet threshold {:.0f} %); mesh "
            "area farther than {:.4f} from every sample: {:.2f} %",
            100.0 * prep.membrane_first, 100.0 * po.open_membrane, prep.support_radius, 100.0 * prep.unsupported);
    mesh::save_mesh(a.output, m);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::vector<int64_t> comp;
    const int64_t ncomp = mesh::triangle_components(m, comp);
    const auto es = mesh::edge_stats(m);
    if (ncomp > 1) {
        std::vector<int64_t> sizes(size_t(ncomp), 0);
        for (int64_t c : comp) ++sizes[size_t(c)];
        std::sort(sizes.rbegin(), sizes.rend());
        std::string list;
        for (size_t i = 0; i < std::min<size_t>(sizes.size(), 8); ++i) list += (i ? ", " : "") + std::to_string(sizes[i]);
        spdlog::info("mesh: triangles per component (largest first): {}{}", list, sizes.size() > 8 ? ", ..." : "");
    }
    spdlog::info(
        "mesh: wrote {} ({} vertices, {} triangles, {} component{}, boundary edges {}, non-manifold edges {}) "
        "in {:.1f}s",
        a.output, m.num_vertices(), m.num_triangles(), ncomp, ncomp == 1 ? "" : "s", es.boundary, es.non_manifold, secs);
    return 0;
}
#else  // MASH_WITH_OPEN3D=OFF: no orientation reference or screened Poisson
int run_mesh(const MeshArgs&) {
    throw ConfigError(
        "mash mesh: not in this build (configured with MASH_WITH_OPEN3D=OFF: no screened Poisson; expected a "
        "build with Open3D, e.g. scripts/build.sh)");
}
#endif

int run_shape(const ShapeArgs& a) {
    apply_global_flags(a.global);
    const std::string e = lower_extension(a.output);
    if (e != ".ply" && e != ".obj" && e != ".off" && e != ".stl")
        throw IoError(a.output + ": unsupported mesh output extension '" + e + "' (expected .ply .obj .off .stl)");
    int64_t components = 0;
    const auto families = mesh::shape_family_names();
    const bool family = std::find(families.begin(), families.end(), a.name) != families.end();
    mesh::TriangleMesh m;
    if (family) {
        m = mesh::family_shape(a.name, a.seed);
        std::vector<int64_t> comp;
        components = mesh::triangle_components(m, comp);
    } else {
        m = mesh::procedural_shape(a.name, &components);
    }
    mesh::save_mesh(a.output, m);
    spdlog::info("shape: wrote {} ({}: {} vertices, {} triangles, {} component{})", a.output, a.name, m.num_vertices(),
                 m.num_triangles(), components, components == 1 ? "" : "s");
    return 0;
}

int run_eval(const EvalArgs& a) {
    apply_global_flags(a.global);
    if (a.normalize != "bbox" && a.normalize != "none")
        throw ConfigError("--normalize '" + a.normalize + "': expected bbox or none");
    const auto taus = parse_taus(a.tau);
    Geometry pred = load_geometry(a.pred, a.num_points, 1);
    Geometry gt = load_geometry(a.gt, a.num_points, 2);
    auto P = to_tensor(pred.points), G = to_tensor(gt.points);
    double scale = 1.0;
    if (a.normalize == "bbox") {  // GT bbox → centered, longest side 1; same map for PRED
        auto lo = std::get<0>(G.min(0)), hi = std::get<0>(G.max(0));
        auto c = (lo + hi) / 2;
        scale = 1.0 / (hi - lo).max().item<double>();
        P = (P - c) * scale;
        G = (G - c) * scale;
    }
    auto ch = losses::chamfer(P, G);
    auto df = ch.dist2_fit, dc = ch.dist2_cov;
    nlohmann::json j;
    j["pred"] = a.pred;
    j["gt"] = a.gt;
    j["pred_kind"] = pred.kind;
    j["gt_kind"] = gt.kind;
    j["num_points"] = {P.size(0), G.size(0)};
    j["normalize"] = a.normalize;
    j["l1_cd"] = 0.5 * (df.sqrt().mean().item<double>() + dc.sqrt().mean().item<double>());
    j["l2_cd"] = 0.5 * (df.mean().item<double>() + dc.mean().item<double>());
    for (double t : taus) {
        double pr = (df <= t * t).to(at::kDouble).mean().item<double>();
        double rc = (dc <= t * t).to(at::kDouble).mean().item<double>();
        char key[32];
        std::snprintf(key, sizeof key, "%g", t);
        j["fscore"][key] = pr + rc > 0 ? 2 * pr * rc / (pr + rc) : 0.0;
        j["precision"][key] = pr;
        j["recall"][key] = rc;
    }
    if (!pred.normals.empty() && !gt.normals.empty()) {
        auto NP = to_tensor(pred.normals), NG = to_tensor(gt.normals);
        auto a1 = (NP * NG.index_select(0, ch.idx_fit)).sum(1).abs().mean().item<double>();
        auto a2 = (NG * NP.index_select(0, ch.idx_cov)).sum(1).abs().mean().item<double>();
        j["normal_consistency"] = 0.5 * (a1 + a2);
    } else {
        j["normal_consistency"] = nullptr;
    }
    std::string text = j.dump(2) + "\n";
    std::printf("%s", text.c_str());
    if (!a.json.empty()) write_file_atomic(a.json, std::vector<uint8_t>(text.begin(), text.end()));
    return 0;
}

namespace {
pictures::RenderScene scene_of(const std::string& input, const pictures::RenderOptions& o) {
    pictures::RenderScene scene;
    const std::string e = lower_extension(input);
    if (io::is_mash_file(input)) {
        MashParams p = io::load_mash(input);
        Mash m = make_mash(p, {}, at::TensorOptions().dtype(at::kDouble));
        at::NoGradGuard ng;
        auto s = m->forward(true);
        auto pts = s.points().contiguous();
        auto aid = s.anchor_idx().contiguous();
        scene.points.assign(pts.data_ptr<double>(), pts.data_ptr<double>() + pts.numel());
        const int64_t nb = s.boundary_points.size(0);
        for (int64_t i = 0; i < aid.size(0); ++i) {
            auto c = pictures::id_color(aid.data_ptr<int64_t>()[i]);
            if (i < nb) c = {40, 40, 40};  // patch boundaries drawn dark
            scene.point_colors.insert(scene.point_colors.end(), c.begin(), c.end());
        }
        return scene;
    }
    bool as_mesh = e == ".obj" || e == ".off" || e == ".stl" || e == ".glb" || e == ".gltf";
    if (e == ".ply") {
        try {
            auto m = io::read_mesh(input);
            scene.vertices = m.vertices;
            scene.triangles = m.triangles;
            return scene;
        } catch (const IoError&) {
            as_mesh = false;
        }
    }
    if (as_mesh) {
        auto m = io::read_mesh(input);
        scene.vertices = m.vertices;
        scene.triangles = m.triangles;
        return scene;
    }
    auto pc = io::load_points(input, 100000, 0);
    scene.points = pc.points;
    scene.point_normals = pc.normals;
    (void)o;
    return scene;
}
}  // namespace

int run_render(const RenderArgs& a) {
    apply_global_flags(a.global);
    if (lower_extension(a.output) != ".png") throw IoError(a.output + ": expected a .png output");
    int w = 0, h = 0;
    if (std::sscanf(a.size.c_str(), "%dx%d", &w, &h) != 2 || w < 16 || h < 16 || w > 8192 || h > 8192)
        throw ConfigError("--size '" + a.size + "': expected WxH, e.g. 480x480");
    if (a.views < 1 || a.views > 16) throw ConfigError("--views " + std::to_string(a.views) + ": expected 1..16");
    if (a.columns < 1) throw ConfigError("--columns must be >= 1");
    pictures::RenderOptions o;
    o.width = w;
    o.height = h;
    o.views = a.views;
    o.point_radius_px = std::max(1.0, std::min(w, h) / 400.0);
    const int n = int(a.inputs.size());
    std::vector<std::vector<unsigned char>> strips;
    for (const auto& input : a.inputs) strips.push_back(pictures::render_views(scene_of(input, o), o));
    int GW = 0, GH = 0;
    auto grid = pictures::tile_images(strips, w * a.views, h, a.columns, GW, GH);
    pictures::write_png(a.output, grid, GW, GH);
    spdlog::info("render: wrote {} ({} input(s), {} views, {}x{} each)", a.output, n, o.views, w, h);
    return 0;
}

// The subcommands of this file and their options (scripts/cli/main.cpp parses and runs them).
namespace {

const Command kMeshCommand(40, [](CLI::App& app) {
    auto a = std::make_shared<MeshArgs>();
    auto* c = app.add_subcommand("mesh", "MASH (or, with --from-points, a point cloud) → watertight mesh (screened Poisson)");
    c->add_option("input", a->input, "MASH file (.npz/.npy), or a point cloud with --from-points")->required();
    c->add_option("-o,--output", a->output, "Output mesh (.ply .obj .off .stl)")->required();
    c->add_option("--depth", a->depth, "Poisson octree depth")->capture_default_str();
    c->add_option("--trim", a->trim, "Remove vertices below this density quantile (0 keeps it watertight)")
        ->capture_default_str();
    c->add_option("--thin-offset", a->thin_offset,
                  "Samples that do not bound a solid (open sheets, thin walls: the winding field is not 1 behind and 0 "
                  "in front) become slabs of ± this many Poisson voxels: thin closed shells, not capped volumes (0: off)")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 8.0));
    c->add_option("--open-sheet", a->open_membrane,
                  "If more than this share of the winding field's 1/2-level set lies away from the samples (a "
                  "cup-shaped open sheet, whose opening Poisson would close with a membrane), the thin step's "
                  "threshold is lowered step by step until it is not (0: never)")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 1.0));
    c->add_option("--sample-cell", a->cell_voxels,
                  "Poisson's input keeps one sample per cell of this many Poisson voxels on each side of the "
                  "surface (dense MASH samples of overlapping patches: faster, no loss; 0 keeps every sample)")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 8.0));
    c->add_option("--orient", a->orient, "Orientation: winding (global winding-number cue) or graph (the earlier local method)")
        ->capture_default_str();
    auto* o_normals =
        c->add_option("--normals", a->normals,
                      "MASH normals: points (the MASH's samples as a point cloud, PCA normals oriented like --from-points; "
                      "the original's later M+M) or patches (patch normals, one sign per patch)")
            ->capture_default_str();
    c->add_flag("--from-points", a->from_points,
                "Input is a point cloud: PCA normals + Poisson (SPR baseline); clouds of more than " +
                    std::to_string(mash::mesh::kMaxOrientedPoints) + " points are oriented on an FPS subset of that many")
        ->excludes(o_normals);
    c->add_option("--num-points", a->num_points,
                  "Oriented samples fed to Poisson (MASH: samples kept, default " +
                      std::to_string(mash::mesh::MashSurfaceOptions{}.num_points) +
                      ", or with --normals patches the per-patch grid; --from-points: surface samples of a mesh, "
                      "default 100000)");
    c->add_option("--grid", a->grid_phi, "With --normals patches: azimuth samples per patch (polar = 2/3 of it)")
        ->capture_default_str();
    add_global_flags(*c, a->global);
    return Runner{c, [a](const std::vector<std::string>&) {
                      a->grid_theta = mash::mesh::MashSurfaceOptions::polar_for(a->grid_phi);
                      return run_mesh(*a);
                  }};
});

const Command kShapeCommand(50, [](CLI::App& app) {
    auto a = std::make_shared<ShapeArgs>();
    auto* c =
        app.add_subcommand("shape",
                           "Write a procedural shape (closed mesh): rope_knot, thin_bowl, nested_spheres, touching_spheres, "
                           "or a member of a family: chair, table, mug, lamp, airplane (--seed)");
    c->add_option("name", a->name, "Shape or family name")->required();
    c->add_option("--seed", a->seed, "Family member (proportions and optional parts drawn from it)")->capture_default_str();
    c->add_option("-o,--output", a->output, "Output mesh (.ply .obj .off .stl)")->required();
    add_global_flags(*c, a->global);
    return Runner{c, [a](const std::vector<std::string>&) { return run_shape(*a); }};
});

const Command kEvalCommand(60, [](CLI::App& app) {
    auto a = std::make_shared<EvalArgs>();
    auto* c = app.add_subcommand("eval", "Compare two shapes (mesh / point cloud / MASH): L1-CD, L2-CD, F-score, NC");
    c->add_option("pred", a->pred, "Predicted shape")->required();
    c->add_option("gt", a->gt, "Ground-truth shape")->required();
    c->add_option("--num-points", a->num_points, "Points sampled from each shape")->capture_default_str();
    c->add_option("--json", a->json, "Also write the metrics to this JSON file");
    c->add_option("--normalize", a->normalize, "bbox: map GT's bbox to longest side 1, centered (both shapes); none")
        ->capture_default_str();
    c->add_option("--tau", a->tau, "F-score thresholds, comma separated (after normalization)")->capture_default_str();
    add_global_flags(*c, a->global);
    return Runner{c, [a](const std::vector<std::string>&) { return run_eval(*a); }};
});

const Command kRenderCommand(70, [](CLI::App& app) {
    auto a = std::make_shared<RenderArgs>();
    auto* c = app.add_subcommand("render", "Render a mesh, point cloud or MASH to a PNG (CPU, no display)");
    c->add_option("inputs", a->inputs, "Mesh, point cloud or MASH file(s); several make a grid")->required();
    c->add_option("--columns", a->columns, "Grid columns when several inputs are given")->capture_default_str();
    c->add_option("-o,--output", a->output, "Output PNG")->required();
    c->add_option("--views", a->views, "Views around the object, side by side")->capture_default_str();
    c->add_option("--size", a->size, "Size of each view, WxH")->capture_default_str();
    add_global_flags(*c, a->global);
    return Runner{c, [a](const std::vector<std::string>&) { return run_render(*a); }};
});

}  // namespace
}  // namespace mash::cli
