// SPDX-License-Identifier: MIT
// Golden test against files and samples written by the original implementation
// (tests/data/mash_official, tolerances from its README: 1e-12 / 1e-10, counts exact).
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mash/core/files.h"
#include "mash/formats/npy.h"
#include "mash/io/mash_file.h"
#include "mash/ops/sampling/sampling.h"
#include "mash/representation/mash.h"
#include "tests/support/support.h"

using namespace mash;
using mash::test::max_abs_diff;
using mash::test::test_data;

namespace {
const auto kF64 = at::TensorOptions().dtype(at::kDouble);
const auto kI64 = at::TensorOptions().dtype(at::kLong);

at::Tensor json_tensor(const nlohmann::json& j) {
    std::vector<int64_t> shape;
    const nlohmann::json* cur = &j;
    while (cur->is_array()) {
        shape.push_back(int64_t(cur->size()));
        if (cur->empty()) break;
        cur = &(*cur)[0];
    }
    std::vector<double> flat;
    std::function<void(const nlohmann::json&)> walk = [&](const nlohmann::json& x) {
        if (x.is_array())
            for (const auto& e : x) walk(e);
        else
            flat.push_back(x.get<double>());
    };
    walk(j);
    return at::tensor(flat, kF64).view(shape);
}

nlohmann::json load_json(const std::string& path) {
    std::ifstream f(path);
    REQUIRE(f.good());
    return nlohmann::json::parse(f);
}

at::Tensor npz_tensor(const formats::NamedArrays& arrays, const std::string& key) {
    for (const auto& [name, a] : arrays) {
        if (name != key) continue;
        auto v = a.to_double();
        return at::tensor(v, kF64).view(a.shape);
    }
    FAIL("missing key " << key);
    return {};
}
}  // namespace

TEST_CASE("golden: hand-made 3-anchor SimpleMash grid (ortho6d and legacy files)", "[golden]") {
    auto j = load_json(test_data("mash_official/handmade_3anchor.json"));
    auto g = j["simplemash_grid4"];
    for (const char* file : {"handmade_3anchor.npy", "handmade_3anchor_legacy.npy"}) {
        MashParams p = io::load_mash(test_data(std::string("mash_official/") + file));
        const double tol = std::string(file).find("legacy") != std::string::npos ? 1e-10 : 1e-12;
        for (bool inv : {true, false}) {
            p.use_inverse = inv;
            Mash m = make_mash(p, {}, kF64);
            at::NoGradGuard ng;
            auto pts = m->grid_points(4, 4, /*relu=*/false);
            auto expect = json_tensor(g[inv ? "points_use_inv_true" : "points_use_inv_false"]);
            INFO(file << " use_inv=" << inv);
            CHECK(max_abs_diff(pts, expect) < tol);
        }
    }
    // The stored R (local→world) equals our reading of both rotation layouts.
    auto R = json_tensor(j["R_local_to_world"]);
    for (const char* file : {"handmade_3anchor.npy", "handmade_3anchor_legacy.npy"}) {
        Mash m = make_mash(io::load_mash(test_data(std::string("mash_official/") + file)), {}, kF64);
        CHECK(max_abs_diff(m->rotation_matrices().detach(), R) < 1e-12);
    }
}

TEST_CASE("golden: hand-made 3-anchor paper-era Mash (B=8, N=64)", "[golden]") {
    auto j = load_json(test_data("mash_official/handmade_3anchor.json"));
    auto g = j["paper_mash_B8_N64"];
    MashOptions o;
    o.num_boundary = 8;
    o.num_directions = 64;
    Mash m = make_mash(io::load_mash(test_data("mash_official/handmade_3anchor_legacy.npy")), o, kF64);
    // Our float32 Fibonacci table reproduces the stored φ exactly and θ to float32 rounding.
    auto dirs = ops::sampling::fibonacci(64, kF64);
    CHECK(max_abs_diff(dirs.phis, json_tensor(g["fib_phis"])) == 0);
    CHECK(max_abs_diff(dirs.thetas, json_tensor(g["fib_thetas"])) < 5e-7);
    m->set_directions(json_tensor(g["fib_phis"]), json_tensor(g["fib_thetas"]));
    at::NoGradGuard ng;
    auto all = m->forward(false);
    CHECK(max_abs_diff(all.boundary_thetas, json_tensor(g["boundary_thetas"])) < 1e-12);
    CHECK(max_abs_diff(all.boundary_points, json_tensor(g["boundary_points"]).view({-1, 3})) < 1e-10);
    CHECK(at::equal(all.inner_counts, json_tensor(g["inmask_counts"]).to(at::kLong)));
    CHECK(at::equal(all.inner_anchor_idx, json_tensor(g["inmask_anchor"]).to(at::kLong)));
    CHECK(at::equal(all.inner_direction_idx, json_tensor(g["inmask_fib"]).to(at::kLong)));
    CHECK(max_abs_diff(all.inner_points, json_tensor(g["inmask_points"])) < 1e-10);
    auto fps = m->forward(true);
    CHECK(at::equal(fps.inner_anchor_idx, json_tensor(g["fps_anchor"]).to(at::kLong)));
    CHECK(at::equal(fps.inner_direction_idx, json_tensor(g["fps_fib"]).to(at::kLong)));
}

TEST_CASE("golden: fitted bunny, paper-era Mash at defaults (A=400, B=90, N=1000)", "[golden][slow]") {
    auto bytes = read_file(test_data("mash_official/bunny_a400_legacy_points.npz"));
    auto ref = formats::parse_npz(bytes.data(), bytes.size(), "bunny_a400_legacy_points.npz");
    Mash m = make_mash(io::load_mash(test_data("mash_official/bunny_a400_legacy.npy")), {}, kF64);
    auto dirs = ops::sampling::fibonacci(1000, kF64);
    CHECK(max_abs_diff(dirs.phis, npz_tensor(ref, "fib_phis")) == 0);
    CHECK(max_abs_diff(ops::sampling::boundary_phis(90, kF64), npz_tensor(ref, "boundary_phis")) == 0);
    m->set_directions(npz_tensor(ref, "fib_phis"), npz_tensor(ref, "fib_thetas"));
    at::NoGradGuard ng;
    auto all = m->forward(false);
    CHECK(max_abs_diff(all.boundary_thetas, npz_tensor(ref, "boundary_thetas")) < 1e-12);
    CHECK(max_abs_diff(all.boundary_points, npz_tensor(ref, "boundary_points").view({-1, 3})) < 1e-10);
    CHECK(at::equal(all.inner_counts, npz_tensor(ref, "inmask_counts").to(at::kLong)));
    // Full in-mask point sets of the stored subset of anchors.
    auto subset_anchor = npz_tensor(ref, "subset_inmask_anchor").to(at::kLong);
    auto key_all = all.inner_anchor_idx * 1000 + all.inner_direction_idx;
    auto key_sub = subset_anchor * 1000 + npz_tensor(ref, "subset_inmask_fib").to(at::kLong);
    auto pos = at::searchsorted(key_all, key_sub);
    REQUIRE(at::equal(key_all.index_select(0, pos), key_sub));
    CHECK(max_abs_diff(all.inner_points.index_select(0, pos), npz_tensor(ref, "subset_inmask_points")) < 1e-10);
    CHECK(max_abs_diff(all.inner_theta_weights.index_select(0, pos), npz_tensor(ref, "subset_inmask_theta_weights")) < 1e-12);
    // FPS: counts exactly, and the selection order (ties broken by first index).
    auto fps = m->forward(true);
    CHECK(fps.inner_points.size(0) == 160182);
    CHECK(at::equal(fps.inner_anchor_idx, npz_tensor(ref, "fps_anchor").to(at::kLong)));
    CHECK(at::equal(fps.inner_direction_idx, npz_tensor(ref, "fps_fib").to(at::kLong)));
}

TEST_CASE("golden: fitted bunny, SimpleMash 10x10 grid from both file layouts", "[golden]") {
    auto bytes = read_file(test_data("mash_official/bunny_a400_simplemash_grid10.npy"));
    auto arr = formats::parse_npy(bytes.data(), bytes.size(), "grid10");
    auto expect = at::tensor(arr.to_double(), kF64).view(arr.shape);
    struct Case {
        const char* file;
        double tol;
    };
    for (Case c : {Case{"bunny_a400.npy", 1e-12}, Case{"bunny_a400_params.npz", 1e-12}, Case{"bunny_a400_legacy.npy", 1e-10}}) {
        Mash m = make_mash(io::load_mash(test_data(std::string("mash_official/") + c.file)), {}, kF64);
        at::NoGradGuard ng;
        INFO(c.file);
        CHECK(max_abs_diff(m->grid_points(10, 10, false), expect) < c.tol);
    }
}
