// SPDX-License-Identifier: MIT
// The paper's released generators: tokens and normalizer against the goldens made by the
// original Python code (tests/data/mash_diffusion_golden, its README gives the conventions).
#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <map>

#include "mash/core/files.h"
#include "mash/dataset/dataset.h"
#include "mash/formats/npy.h"
#include "mash/io/mash_file.h"
#include "models/normalizer.h"
#include "models/original.h"
#include "models/tokens.h"
#include "tests/support/support.h"

using namespace mash;
using namespace mash::models;

namespace {

std::map<std::string, at::Tensor> load_npz(const std::string& path) {
    auto bytes = read_file(path);
    std::map<std::string, at::Tensor> out;
    for (auto& [k, a] : formats::parse_npz(bytes.data(), bytes.size(), path)) {
        auto t = at::tensor(a.to_double(), at::kDouble).reshape(std::vector<int64_t>(a.shape.begin(), a.shape.end()));
        out[k] = a.kind == 'f' && a.itemsize == 4 ? t.to(at::kFloat) : t;
    }
    return out;
}

at::Tensor load_npy(const std::string& path) {
    auto bytes = read_file(path);
    auto a = formats::parse_npy(bytes.data(), bytes.size(), path);
    return at::tensor(a.to_double(), at::kDouble).reshape(std::vector<int64_t>(a.shape.begin(), a.shape.end()));
}

const std::string kGolden = "mash_diffusion_golden/";

}  // namespace

TEST_CASE("original: tokens of the paper-era bunny equal the original's to 1e-12", "[original][tokens][golden]") {
    MashParams p = io::load_mash(test::test_data("mash_official/bunny_a400_legacy.npy"));
    at::Tensor ours = tokens_from_mash(p);
    at::Tensor golden = load_npy(test::test_data(kGolden + "bunny_tokens.npy"));
    REQUIRE(ours.sizes() == golden.sizes());
    CHECK(test::max_abs_diff(ours, golden) < 1e-12);
    // positions, mask and SH byte-equal; ortho6d exact
    CHECK(test::max_abs_diff(ours.narrow(1, 6, 19), golden.narrow(1, 6, 19)) == 0);
}

TEST_CASE("original: the normalizer fitted on the bunny tokens matches the original's knots and maps",
          "[original][normalizer][golden]") {
    auto z = load_npz(test::test_data(kGolden + "bunny_normalizer.npz"));
    auto fitted = QuantileNormalizer::fit(z["fit_data"]);
    auto imported = load_original_normalizer(test::test_data(kGolden + "bunny_multi_linear_transformers.pkl"));
    for (auto* q : {&fitted, &imported}) {
        INFO((q == &fitted ? "fitted" : "imported from the .pkl"));
        CHECK(test::max_abs_diff(q->source_knots(), z["source_knots"]) == 0);  // same sorted samples, same truncation
        CHECK(test::max_abs_diff(q->target_knots(), z["target_knots"]) < 1e-14);
        // float64: forward, inverse, the probes beyond the knots (slope-1 tails)
        CHECK(test::max_abs_diff(q->forward(z["in_f64"]), z["out_f64"]) < 1e-12);
        CHECK(test::max_abs_diff(q->inverse(z["out_f64"]), z["inv_out_f64"]) < 1e-12);
        CHECK(test::max_abs_diff(q->forward(z["probe_x"]), z["probe_x_out"]) < 1e-12);
        CHECK(test::max_abs_diff(q->inverse(z["probe_y"]), z["probe_y_inv"]) < 1e-12);
        // float32 (the dataset path): interp in float64, result rounded to float32
        auto f = q->forward(z["in_f32"]);
        CHECK(f.scalar_type() == at::kFloat);
        CHECK(test::max_abs_diff(f, z["out_f32"]) < 1e-6);
        CHECK(test::max_abs_diff(q->inverse(z["out_f32"]), z["inv_out_f32"]) < 1e-6);
    }
}

TEST_CASE("original: ShapeNet-55 vocabulary in the original's order", "[original][categories]") {
    const auto v = dataset::shapenet_synsets();
    REQUIRE(v.size() == 55);
    CHECK(v[0].first == "02691156");
    CHECK(v[0].second == "airplane");
    CHECK(v[18].first == "03001627");
    CHECK(v[18].second == "chair");
}
