// SPDX-License-Identifier: MIT
// The generative side: tokens, normalizer, denoiser, objectives, samplers, training.
#include <ATen/ATen.h>
#include <torch/nn.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>

#include "mash/core/errors.h"
#include "mash/core/files.h"
#include "mash/dataset/dataset.h"
#include "mash/fitting/fit_options.h"
#include "mash/formats/npy.h"
#include "mash/io/mash_file.h"
#include "mash/ops/rotation/rotation.h"
#include "mash/ops/runtime.h"
#include "models/assignment.h"
#include "models/denoiser.h"
#include "models/diffusion.h"
#include "models/distributed.h"
#include "models/eval_gen.h"
#include "models/generator.h"
#include "models/normalizer.h"
#include "models/tokens.h"
#include "models/train_config.h"
#include "models/trainer.h"
#include "tests/support/support.h"

using namespace mash;
using namespace mash::models;

namespace {

at::Tensor vec(const std::vector<double>& v, int64_t w) {
    return at::from_blob(const_cast<double*>(v.data()), {static_cast<int64_t>(v.size()) / w, w}, at::kDouble).clone();
}

DenoiserOptions tiny_options(ConditionKind cond = ConditionKind::kCategory) {
    DenoiserOptions o;
    o.width = 32;
    o.depth = 2;
    o.heads = 2;
    o.time_channels = 16;
    o.context_dim = 24;
    o.condition = cond;
    o.num_categories = 3;
    return o;
}

// A small synthetic MASH set: `n` shapes of A anchors from random MASHes.
MashSet synthetic_set(int64_t n, int64_t A, uint64_t seed) {
    auto gen = test::make_gen(seed);
    MashSet s;
    s.layout = {3, 2};
    std::vector<at::Tensor> toks;
    for (int64_t i = 0; i < n; ++i) {
        MashParams p = MashParams::zeros(A, 3, 2);
        auto fill = [&](std::vector<double>& v, double scale) {
            at::Tensor r = at::randn({static_cast<int64_t>(v.size())}, gen, at::kDouble) * scale;
            std::copy(r.data_ptr<double>(), r.data_ptr<double>() + r.numel(), v.begin());
        };
        fill(p.rotate_vectors, 1.0);
        fill(p.positions, 0.3);
        fill(p.mask_params, 0.5);
        fill(p.sh_params, 0.05);
        toks.push_back(tokens_from_mash(p));
        s.keys.push_back("c" + std::to_string(i % 2) + "/s" + std::to_string(i));
        s.category.push_back(i % 2);
    }
    s.category_names = {"c0", "c1"};
    s.tokens = at::stack(toks);
    return s;
}

TrainConfig tiny_config() {
    TrainConfig c;
    c.width = 32;
    c.depth = 2;
    c.heads = 2;
    c.time_channels = 16;
    c.context_dim = 32;
    c.batch_size = 2;
    c.lr = 2e-3;
    c.lr_batch_size = 2;
    c.warmup_steps = 5;
    c.ema_ramp_steps = 10;
    c.val_samples = 0;
    c.seed = 3;
    return c;
}

}  // namespace

TEST_CASE("tokens: ortho6d = first two columns of R, round trip to MASH", "[models][tokens]") {
    MashParams p = io::load_mash(test::test_data("mash_official/bunny_a400_params.npz"));
    at::Tensor t = tokens_from_mash(p);
    REQUIRE(t.sizes() == at::IntArrayRef({400, 25}));
    at::Tensor R = ops::rotation::matrix_from_axis_angle(vec(p.rotate_vectors, 3));
    CHECK(test::max_abs_diff(t.narrow(1, 0, 3), R.select(2, 0)) < 1e-15);
    CHECK(test::max_abs_diff(t.narrow(1, 3, 3), R.select(2, 1)) < 1e-15);
    CHECK(test::max_abs_diff(t.narrow(1, 6, 3), vec(p.positions, 3)) == 0);
    CHECK(test::max_abs_diff(t.narrow(1, 9, 7), vec(p.mask_params, 7)) == 0);
    CHECK(test::max_abs_diff(t.narrow(1, 16, 9), vec(p.sh_params, 9)) == 0);
    MashParams q = mash_from_tokens(t, TokenLayout::of(p));
    at::Tensor Rq = ops::rotation::matrix_from_axis_angle(vec(q.rotate_vectors, 3));
    CHECK(test::max_abs_diff(Rq, R) < 1e-12);
    CHECK(q.positions == p.positions);
    CHECK(q.sh_params == p.sh_params);
    // Non-orthonormal 6-vectors are repaired by Gram–Schmidt (x = a/|a|, z ⟂ a,b, y = z × x).
    at::Tensor o = at::tensor({2.0, 0.0, 0.0, 1.0, 3.0, 0.0}, at::kDouble).reshape({1, 6});
    at::Tensor M = matrix_from_token_ortho6d(o)[0];
    CHECK(test::max_abs_diff(M, at::eye(3, at::kDouble)) < 1e-15);
    CHECK_THROWS_AS(mash_from_tokens(at::zeros({4, 24}, at::kDouble), {3, 2}), InputError);
}

TEST_CASE("tokens: anchor selections", "[models][tokens]") {
    MashParams p = MashParams::zeros(10, 3, 2);
    for (int a = 0; a < 10; ++a) p.positions[a * 3] = a;
    CHECK(select_anchors(p, "0-2,5,5,9", "t") == std::vector<int64_t>{0, 1, 2, 5, 9});
    CHECK(select_anchors(p, "box=2.5,-1,-1,6,1,1", "t") == std::vector<int64_t>{3, 4, 5, 6});
    CHECK(select_anchors(p, "all", "t").size() == 10);
    CHECK_THROWS_WITH(select_anchors(p, "3-12", "part.npz"), Catch::Contains("part.npz") && Catch::Contains("outside 0..9"));
    CHECK_THROWS_AS(select_anchors(p, "x", "t"), InputError);
    CHECK_THROWS_AS(select_anchors(p, "box=1,2,3", "t"), InputError);
    MashParams s = subset_anchors(p, {2, 7});
    CHECK(s.num_anchors == 2);
    CHECK(s.positions[3] == 7);
}

TEST_CASE("normalizer: knots, slope-1 tails, exact inverse, file round trip", "[models][normalizer]") {
    CHECK(QuantileNormalizer::normal_quantile(0.5) == Approx(0.0).margin(1e-15));
    CHECK(QuantileNormalizer::normal_quantile(0.001) == Approx(-3.090232306167813).epsilon(1e-12));
    // Column 0: 0..100 (x_i = i exactly); column 1: heavy-tailed with an atom at 0 (ties).
    const int64_t n = 101;
    at::Tensor data = at::zeros({n, 2}, at::kDouble);
    auto gen = test::make_gen(5);
    for (int64_t i = 0; i < n; ++i) data[i][0] = static_cast<double>(i);
    at::Tensor heavy = at::randn({n}, gen, at::kDouble).pow(3) * 10;
    heavy.narrow(0, 0, 30).zero_();
    data.select(1, 1).copy_(heavy);
    auto q = QuantileNormalizer::fit(data, {"a", "b"});
    const auto& y = q.target_knots();
    CHECK(y[1].item<double>() == Approx(-2.291059).margin(1e-6));
    CHECK(y[50].item<double>() == Approx(0.0).margin(1e-12));
    // Hand-computed: x = 0.5 lies halfway between knots 0 and 1 of column 0.
    at::Tensor x = at::tensor({0.5, 0.0, 107.0, 0.0, -4.0, 0.0}, at::kDouble).reshape({3, 2});
    at::Tensor f = q.forward(x);
    CHECK(f[0][0].item<double>() == Approx(0.5 * (y[0].item<double>() + y[1].item<double>())).epsilon(1e-14));
    CHECK(f[1][0].item<double>() == Approx(y[100].item<double>() + 7.0).epsilon(1e-14));  // slope-1 tail
    CHECK(f[2][0].item<double>() == Approx(y[0].item<double>() - 4.0).epsilon(1e-14));
    // Strictly increasing knots despite the atom; round trip ≤ 1e-6 everywhere (in range and tails).
    at::Tensor src = q.source_knots();
    CHECK((src.narrow(1, 1, 100) > src.narrow(1, 0, 100)).all().item<bool>());
    at::Tensor probe = at::cat({data, at::randn({500, 2}, gen, at::kDouble) * 200});
    CHECK(test::max_abs_diff(q.inverse(q.forward(probe)), probe) < 1e-6);
    at::Tensor yprobe = at::randn({500, 2}, gen, at::kDouble) * 4;
    CHECK(test::max_abs_diff(q.forward(q.inverse(yprobe)), yprobe) < 1e-6);
    // float32 in → float32 out, shape kept.
    CHECK(q.forward(probe.to(at::kFloat).reshape({-1, 1, 2})).scalar_type() == at::kFloat);
    // File round trip is exact.
    auto dir = test::temp_dir();
    q.save(dir + "/norm.json");
    auto r = QuantileNormalizer::load(dir + "/norm.json");
    CHECK(at::equal(r.source_knots(), q.source_knots()));
    CHECK(at::equal(r.target_knots(), q.target_knots()));
    CHECK(r.column_names() == std::vector<std::string>{"a", "b"});
    std::ofstream(dir + "/bad.json") << "{\"format\": \"something-else\"}";
    CHECK_THROWS_WITH(QuantileNormalizer::load(dir + "/bad.json"), Catch::Contains("bad.json") && Catch::Contains("format"));
}

TEST_CASE("denoiser: zero output at init, parameter names, permutation equivariance", "[models][denoiser]") {
    torch::manual_seed(0);
    Denoiser net(tiny_options());
    auto gen = test::make_gen(1);
    at::Tensor x = at::randn({2, 12, 25}, gen, at::kFloat), t = at::rand({2}, gen, at::kFloat);
    ConditionBatch cb;
    cb.category = at::tensor({0, 2}, at::kLong);
    at::Tensor ctx = net->context(cb, 2);
    CHECK(ctx.sizes() == at::IntArrayRef({2, 1, 24}));
    CHECK(net->forward(x, t, ctx).abs().max().item<float>() == 0.0f);  // zero-initialized proj_out
    auto names = net->named_parameters();
    for (const char* k : {"category_emb.weight", "model.proj_in.weight", "model.map_layer0.bias", "model.map_layer1.weight",
                          "model.transformer_blocks.1.attn1.to_q.weight", "model.transformer_blocks.0.attn2.to_k.weight",
                          "model.transformer_blocks.0.attn1.to_out.0.bias", "model.transformer_blocks.0.ff.net.0.proj.weight",
                          "model.transformer_blocks.0.ff.net.2.weight", "model.transformer_blocks.0.norm3.linear.weight",
                          "model.norm.weight", "model.proj_out.weight"})
        CHECK(names.contains(k));
    CHECK(!names.contains("model.proj_in.bias"));
    CHECK(!names.contains("model.transformer_blocks.0.attn1.to_q.bias"));
    CHECK(names["model.transformer_blocks.0.ff.net.0.proj.weight"].sizes() == at::IntArrayRef({256, 32}));
    CHECK(names["model.transformer_blocks.0.attn2.to_k.weight"].sizes() == at::IntArrayRef({32, 24}));
    {
        torch::NoGradGuard g;
        net->model->proj_out->weight.normal_(0, 0.1);
    }
    at::Tensor y = net->forward(x, t, ctx);
    CHECK(y.abs().max().item<float>() > 1e-3);
    at::Tensor perm = at::randperm(12, gen, at::kLong);
    at::Tensor yp = net->forward(x.index_select(1, perm), t, ctx);
    CHECK(test::max_abs_diff(yp, y.index_select(1, perm)) < 1e-5);
    // Per-block parameter count 24·D² + 2·C·D + 17·D (generation-spec §2.1), D = 32, C = 24.
    int64_t block = 0;
    for (auto& p : net->model->transformer_blocks[0]->parameters()) block += p.numel();
    CHECK(block == 24 * 32 * 32 + 2 * 24 * 32 + 17 * 32);
}

TEST_CASE("denoiser: fused attention (SDPA) gives the softmax(QK^T)V result, values and gradients", "[models][denoiser]") {
    torch::manual_seed(3);
    Denoiser net(tiny_options());
    {
        torch::NoGradGuard g;
        net->model->proj_out->weight.normal_(0, 0.1);
    }
    auto gen = test::make_gen(4);
    at::Tensor x = at::randn({3, 40, 25}, gen, at::kFloat), t = at::rand({3}, gen, at::kFloat);
    ConditionBatch cb;
    cb.category = at::tensor({0, 1, 2}, at::kLong);
    auto run = [&](bool fused) {
        set_fused_attention(fused);
        net->zero_grad();
        at::Tensor y = net->forward(x, t, net->context(cb, 3));
        (y * y).sum().backward();
        std::vector<at::Tensor> g;
        for (auto& p : net->parameters()) g.push_back(p.grad().clone());
        return std::make_pair(y.detach(), g);
    };
    auto [y_math, g_math] = run(false);
    auto [y_fused, g_fused] = run(true);
    set_fused_attention(true);
    CHECK(y_math.abs().max().item<float>() > 1e-3);
    CHECK(test::max_abs_diff(y_math, y_fused) < 1e-5);
    double worst = 0, scale = 0;
    for (size_t i = 0; i < g_math.size(); ++i) {
        worst = std::max(worst, test::max_abs_diff(g_math[i], g_fused[i]));
        scale = std::max(scale, g_math[i].abs().max().item<double>());
    }
    INFO("max |grad difference| " << worst << ", max |grad| " << scale);
    CHECK(worst < 1e-4 * scale);
}

TEST_CASE("train.precision bf16: autocast steps track the fp32 steps, weights stay fp32", "[models][train]") {
    MashSet s = synthetic_set(4, 8, 21);
    TrainConfig c = tiny_config();
    c.cond_dropout = 0;
    Trainer a(c, s, s, "");
    c.precision = models::Precision::kBf16;
    Trainer b(c, s, s, "");
    double la = 0, lb = 0;
    for (int i = 0; i < 3; ++i) {
        la = a.step();
        lb = b.step();
        INFO("step " << i << ": fp32 loss " << la << ", bf16 loss " << lb);
        CHECK(std::abs(la - lb) < 0.02 * std::abs(la) + 1e-3);  // bf16 has 8 significant bits
    }
    for (auto& p : b.generator().model->parameters()) CHECK(p.scalar_type() == at::kFloat);
    TrainConfig bad = tiny_config();
    CHECK_THROWS_WITH(apply_train_override(bad, "train.precision=fp16"), Catch::Contains("fp32 or bf16"));
}

TEST_CASE("denoiser: full-size parameter count matches the paper model", "[models][denoiser]") {
    DenoiserOptions o;  // defaults: 400x25 tokens, D 512, depth 24, 8 heads, context 512, 55 categories
    Denoiser net(o);
    CHECK(count_parameters(*net) == 164235776);
}

TEST_CASE("EDM preconditioning limits and schedule", "[models][edm]") {
    at::Tensor s = at::tensor({1e-6, 1.0, 1e6}, at::kDouble);
    auto c = edm_scalings(s, 1.0);
    CHECK(c.c_skip[0].item<double>() == Approx(1.0).margin(1e-9));  // σ → 0: D(x) → x
    CHECK(c.c_out[0].item<double>() == Approx(1e-6).epsilon(1e-9));
    CHECK(c.c_skip[2].item<double>() == Approx(0.0).margin(1e-11));  // σ → ∞: D → σ_data·F
    CHECK(c.c_out[2].item<double>() == Approx(1.0).epsilon(1e-9));
    CHECK(c.c_skip[1].item<double>() == Approx(0.5));
    CHECK(c.c_in[1].item<double>() == Approx(1 / std::sqrt(2.0)));
    CHECK(c.c_noise[1].item<double>() == 0.0);
    // Weight λ = (σ²+1)/σ² (σ_data = 1) makes the effective target weight λ·c_out² = 1.
    at::Tensor w = edm_loss_weight(s, 1.0) * c.c_out.pow(2);
    CHECK(test::max_abs_diff(w, at::ones_like(w)) < 1e-9);
    auto sig = edm_sigmas(18, {});
    REQUIRE(sig.size() == 19);
    CHECK(sig[0] == Approx(80.0));
    CHECK(sig[17] == Approx(0.002));
    CHECK(sig[18] == 0.0);
    CHECK(std::is_sorted(sig.rbegin(), sig.rend()));
}

TEST_CASE("samplers integrate known fields exactly, frozen rows stay bit-exact", "[models][sampler]") {
    auto gen = test::make_gen(2);
    at::Tensor x0 = at::randn({2, 5, 3}, gen, at::kDouble), a = at::randn({2, 5, 3}, gen, at::kDouble),
               b = at::randn({2, 5, 3}, gen, at::kDouble);
    VelocityFn constant = [&](const at::Tensor&, double) { return a; };
    VelocityFn linear_t = [&](const at::Tensor&, double t) { return a + t * b; };
    at::Tensor exact_c = x0 + a, exact_l = x0 + a + 0.5 * b;
    CHECK(test::max_abs_diff(integrate(constant, x0, Solver::kEuler, 7, 0, 0), exact_c) < 1e-13);
    CHECK(test::max_abs_diff(integrate(linear_t, x0, Solver::kHeun, 3, 0, 0), exact_l) < 1e-13);
    OdeStats st;
    CHECK(test::max_abs_diff(integrate(linear_t, x0, Solver::kDopri5, 0, 1e-6, 1e-6, &st), exact_l) < 1e-12);
    // dx/dt = −x: adaptive error control within tolerance, Euler is visibly worse.
    VelocityFn decay = [](const at::Tensor& x, double) { return -x; };
    OdeStats sd;
    at::Tensor xd = integrate(decay, x0, Solver::kDopri5, 0, 1e-8, 1e-8, &sd);
    CHECK(test::max_abs_diff(xd, x0 * std::exp(-1.0)) < 1e-6);
    CHECK(sd.nfe > 6);
    CHECK(test::max_abs_diff(integrate(decay, x0, Solver::kEuler, 10, 0, 0), x0 * std::exp(-1.0)) > 1e-3);
    // Frozen rows: zero velocity rows → bit-identical for every solver.
    VelocityFn wild = [&](const at::Tensor& x, double t) { return at::sin(3 * x) + t; };
    for (Solver s : {Solver::kEuler, Solver::kHeun, Solver::kDopri5}) {
        at::Tensor out = integrate(freeze_rows(wild, 2), x0, s, 9, 1e-5, 1e-5);
        if (s == Solver::kDopri5)  // the dense output's polynomial rounds zero-velocity rows by a few ulp
            CHECK(test::max_abs_diff(out.narrow(1, 0, 2), x0.narrow(1, 0, 2)) < 1e-14);
        else
            CHECK(at::equal(out.narrow(1, 0, 2), x0.narrow(1, 0, 2)));
        CHECK(!at::equal(out.narrow(1, 2, 3), x0.narrow(1, 2, 3)));
    }
    // EDM Heun with frozen rows: exact GT at the end, network called 2N−1 times.
    OdeStats se;
    at::Tensor gt = at::randn({2, 3}, gen, at::kDouble);
    auto denoise = [&](const at::Tensor& x, double) { return 0.5 * x; };
    at::Tensor noise = at::randn({1, 5, 3}, gen, at::kFloat);
    at::Tensor out = edm_sample(denoise, noise, 6, {}, gt, at::randn({1, 2, 3}, gen, at::kFloat), &se);
    CHECK(se.nfe == 11);
    CHECK(at::equal(out[0].narrow(0, 0, 2), gt));
}

TEST_CASE("dopri5 reproduces torchdiffeq 0.2.5 bit for bit (states at the query times, evaluations)", "[models][sampler]") {
    // tests/data/dopri5_golden.npz: made by tests/data/make_dopri5_golden.py with torchdiffeq 0.2.5 and
    // the same LibTorch version; both fields are computed with the same ATen ops here, so every state
    // must be bit-identical (float32 and float64), including runs that reject steps.
    const std::string path = test::test_data("dopri5_golden.npz");
    auto bytes = read_file(path);
    std::map<std::string, formats::NpyArray> g;
    for (auto& [k, v] : formats::parse_npz(bytes.data(), bytes.size(), path)) g[k] = std::move(v);
    auto tensor = [&](const std::string& key) {
        const auto& a = g.at(key);
        const auto dtype = a.itemsize == 4 ? at::kFloat : at::kDouble;
        return at::tensor(a.to_double(), at::kDouble).reshape(std::vector<int64_t>(a.shape.begin(), a.shape.end())).to(dtype);
    };
    const at::Tensor q = tensor("query_t");
    std::map<std::string, VelocityFn> fields{
        {"smooth", [](const at::Tensor& x, double t) { return at::sin(x * 3) + t * at::cos(x); }},
        {"stiff", [](const at::Tensor& x, double t) { return (at::cos(x * 2 + t * 9) - x) * 12; }}};
    int cases = 0;
    int64_t rejected = 0;
    for (const auto& [name, f] : fields)
        for (std::string dt : {"f32", "f64"})
            for (std::string tol : {"1e-4", "1e-7"}) {
                const std::string c = name + "_" + dt + "_" + tol;
                INFO(c);
                const at::Tensor x0 = tensor(c + "_x0"), traj = tensor(c + "_traj");
                OdeStats st;
                auto states = odeint_dopri5(f, x0, q, std::stod(tol), std::stod(tol), &st);
                REQUIRE(states.size() == size_t(q.size(0)));
                CHECK(st.nfe == g.at(c + "_nfe").to_int64(c)[0]);
                CHECK(st.nfe == 2 + 6 * (st.accepted + st.rejected));
                rejected += st.rejected;
                at::Tensor ours = at::stack(states);
                CHECK(ours.scalar_type() == traj.scalar_type());
                CHECK(at::equal(ours, traj));
                if (!at::equal(ours, traj)) WARN("max |diff| " << (ours - traj).abs().max().item<double>());
                ++cases;
            }
    CHECK(cases == 8);
    CHECK(rejected > 0);  // the controller's reject branch is covered
    // integrate() is the same solver with the query times {0, 1}.
    const at::Tensor x0 = tensor("smooth_f32_1e-4_x0");
    OdeStats a, b;
    const at::Tensor end = integrate(fields["smooth"], x0, Solver::kDopri5, 0, 1e-4, 1e-4, &a);
    const at::Tensor dense = odeint_dopri5(fields["smooth"], x0, q, 1e-4, 1e-4, &b).back();
    CHECK(at::equal(end, dense));  // query times do not move the steps; the end is interpolated the same way
    CHECK(a.nfe == b.nfe);
    CHECK_THROWS_AS(odeint_dopri5(fields["smooth"], x0, at::tensor({0.0, 0.5, 0.5}), 1e-4, 1e-4), InputError);
}

TEST_CASE("one set of value rules for fit, train and dataset configs", "[models][config]") {
    // Booleans: true/false/True/False/1/0 everywhere; anything else is the same one-line error.
    fitting::FitOptions f;
    fitting::apply_fit_override("use_inverse=0", f);
    CHECK_FALSE(f.use_inverse);
    TrainConfig t;
    apply_train_override(t, "objective.completion_trick=0");
    CHECK_FALSE(t.completion_trick);
    apply_train_override(t, "objective.completion_trick=True");
    CHECK(t.completion_trick);
    CHECK_THROWS_WITH(fitting::apply_fit_override("use_inverse=yes", f),
                      Catch::Contains("fit.use_inverse = 'yes' is not a valid bool"));
    CHECK_THROWS_WITH(apply_train_override(t, "objective.completion_trick=yes"),
                      Catch::Contains("objective.completion_trick = 'yes' is not a valid bool"));
    // Integers: decimal, no fractions; unsigned settings take no sign; ranges named.
    CHECK_THROWS_WITH(fitting::apply_fit_override("max_steps=1.5", f),
                      Catch::Contains("fit.max_steps = '1.5' is not a valid integer"));
    CHECK_THROWS_WITH(apply_train_override(t, "train.steps=1.5"), Catch::Contains("train.steps = '1.5' is not a valid integer"));
    CHECK_THROWS_WITH(apply_train_override(t, "train.seed=-3"),
                      Catch::Contains("train.seed = '-3' is not a valid non-negative integer"));
    CHECK_THROWS_WITH(dataset::parse_dataset_section("dataset:\n  workers: 0\n", "d.yaml"),
                      Catch::Contains("d.yaml: dataset.workers = '0' is not a valid integer (expected 1..64)"));
    CHECK_THROWS_WITH(dataset::parse_dataset_section("dataset:\n  workers: 2.5\n", "d.yaml"),
                      Catch::Contains("dataset.workers = '2.5' is not a valid integer"));
    CHECK(dataset::parse_dataset_section("dataset:\n  workers: 3\n", "d.yaml").workers == 3);
    // Numbers: finite decimals.
    CHECK_THROWS_WITH(fitting::apply_fit_override("lr=nan", f), Catch::Contains("fit.lr = 'nan' is not a valid number"));
    CHECK_THROWS_WITH(apply_train_override(t, "train.lr=1e999"), Catch::Contains("train.lr = '1e999' is not a valid number"));
    fitting::apply_fit_override("lr=2.5e-3", f);
    CHECK(f.lr == 2.5e-3);
}

TEST_CASE("one reader: the same structure rules and error lines for fit, dataset and train configs", "[models][config]") {
    fitting::FitOptions f;
    // Unknown sections name the sections the file may hold.
    CHECK_THROWS_WITH(fitting::parse_fit_config("model:\n  width: 3\n", "f.yaml", f, {"dataset"}),
                      Catch::Equals("f.yaml: unknown section 'model' (expected fit, dataset)"));
    CHECK_THROWS_WITH(dataset::parse_dataset_section("modle:\n  x: 1\n", "d.yaml"),
                      Catch::Equals("d.yaml: unknown section 'modle' (expected dataset, fit)"));
    CHECK_THROWS_WITH(parse_train_config("modle:\n  width: 3\n", "t.yaml"),
                      Catch::Equals("t.yaml: unknown section 'modle' (expected data, model, objective, train, sample)"));
    // Unknown keys list the section's keys.
    CHECK_THROWS_WITH(fitting::parse_fit_config("fit:\n  lrr: 1\n", "f.yaml", f),
                      Catch::StartsWith("f.yaml: unknown key 'fit.lrr' (valid keys: num_anchors, mask_degree,"));
    CHECK_THROWS_WITH(dataset::parse_dataset_section("dataset:\n  wrokers: 2\n", "d.yaml"),
                      Catch::Equals("d.yaml: unknown key 'dataset.wrokers' (valid keys: input, output, layout, workers, "
                                    "limit, categories, ids, seed)"));
    CHECK_THROWS_WITH(parse_train_config("sample:\n  solvr: heun\n", "t.yaml"),
                      Catch::Equals("t.yaml: unknown key 'sample.solvr' (valid keys: solver, steps, rtol, atol, "
                                    "val_samples, val_render_points)"));
    // A list or mapping where one value belongs; lists where a setting takes them.
    CHECK_THROWS_WITH(fitting::parse_fit_config("fit:\n  lr: [1, 2]\n", "f.yaml", f),
                      Catch::Equals("f.yaml: fit.lr must be a single value (expected key: value)"));
    CHECK_THROWS_WITH(parse_train_config("train:\n  steps: {a: 1}\n", "t.yaml"),
                      Catch::Equals("t.yaml: train.steps must be a single value (expected key: value)"));
    CHECK_THROWS_WITH(dataset::parse_dataset_section("dataset:\n  ids: [a]\n", "d.yaml"),
                      Catch::Equals("d.yaml: dataset.ids must be a single value (expected key: value)"));
    const auto d = dataset::parse_dataset_section("dataset:\n  categories: [chair, 02691156]\n  layout: flat\n", "d.yaml");
    REQUIRE(d.categories);
    CHECK(*d.categories == std::vector<std::string>{"chair", "02691156"});
    CHECK(d.layout == dataset::Layout::kFlat);
    CHECK((!d.input && !d.workers && !d.seed));  // unset stays unset, so that flags win
    CHECK(dataset::parse_dataset_section("dataset:\n  categories: chair\n", "d.yaml").categories ==
          std::vector<std::string>{"chair"});
    // Enumerated settings: by name, one error form everywhere.
    CHECK_THROWS_WITH(dataset::parse_dataset_section("dataset:\n  layout: modelnet\n", "d.yaml"),
                      Catch::Equals("d.yaml: dataset.layout = 'modelnet' is not a valid choice (expected shapenet, "
                                    "objaverse or flat)"));
    TrainConfig t;
    CHECK_THROWS_WITH(apply_train_override(t, "model.condition=text"),
                      Catch::Equals("--set: model.condition = 'text' is not a valid choice (expected none, category or image)"));
    CHECK_THROWS_WITH(parse_train_config("sample:\n  solver: rk4\n", "t.yaml"),
                      Catch::Equals("t.yaml: sample.solver = 'rk4' is not a valid choice (expected euler, heun or dopri5)"));
    apply_train_override(t, "sample.solver=dopri5");
    apply_train_override(t, "objective.type=edm");
    apply_train_override(t, "data.image_features=disk");
    CHECK(t.solver == Solver::kDopri5);
    CHECK(t.objective == Objective::kEdm);
    CHECK(config::name(t.image_features) == "disk");
    // Written back by the same table: every enumerated value survives the round trip by name.
    const TrainConfig back = parse_train_config(t.to_yaml(), "round trip");
    CHECK(back.to_yaml() == t.to_yaml());
    CHECK(back.solver == Solver::kDopri5);
    CHECK(t.to_yaml().find("  type: edm\n") != std::string::npos);
    // --set forms: fit may leave out its section, train may not.
    fitting::apply_fit_override("fit.lr=0.5", f);
    CHECK(f.lr == 0.5);
    CHECK_THROWS_WITH(fitting::apply_fit_override("train.lr=1", f),
                      Catch::Equals("--set: unknown section 'train' (expected fit)"));
    CHECK_THROWS_WITH(apply_train_override(t, "steps=3"),
                      Catch::Equals("--set 'steps=3': expected section.key=value (e.g. --set train.steps=100)"));
}

TEST_CASE("linear assignment is optimal (brute force) and flow-matching pairs are consistent", "[models][ot]") {
    auto gen = test::make_gen(4);
    for (int trial = 0; trial < 30; ++trial) {
        const int64_t n = 5 + trial % 4;  // 5..8
        at::Tensor c = at::rand({n, n}, gen, at::kDouble);
        if (trial % 3 == 0) c = (c * 4).floor();  // many ties (and rows sharing a column minimum)
        auto assign = linear_assignment(c.data_ptr<double>(), n);
        double got = 0;
        for (int64_t i = 0; i < n; ++i) got += c[i][assign[i]].item<double>();
        std::vector<int64_t> p(n);
        std::iota(p.begin(), p.end(), 0);
        double best = 1e300;
        do {
            double s = 0;
            for (int64_t i = 0; i < n; ++i) s += c[i][p[i]].item<double>();
            best = std::min(best, s);
        } while (std::next_permutation(p.begin(), p.end()));
        CHECK(got == Approx(best).epsilon(1e-12).margin(1e-12));
        auto sorted = assign;
        std::sort(sorted.begin(), sorted.end());
        for (int64_t i = 0; i < n; ++i) CHECK(sorted[i] == i);
    }
    // Large instances: same optimal total as the plain Kuhn–Munkres reference, on random costs,
    // on squared distances between Gaussian token sets (as in training) and on clustered sets.
    for (int trial = 0; trial < 6; ++trial) {
        const int64_t n = trial < 3 ? 400 : 150;
        at::Tensor x = at::randn({n, 25}, gen, at::kDouble), y = at::randn({n, 25}, gen, at::kDouble);
        if (trial % 3 == 2) y = (y * 0.1 + at::randint(3, {n, 1}, gen, at::kLong).to(at::kDouble)).contiguous();
        at::Tensor c = trial % 3 == 0 ? at::rand({n, n}, gen, at::kDouble) : at::cdist(x, y).pow(2).contiguous();
        auto fast = linear_assignment(c.data_ptr<double>(), n), ref = linear_assignment_ref(c.data_ptr<double>(), n);
        double tf = 0, tr = 0;
        for (int64_t i = 0; i < n; ++i) {
            tf += c[i][fast[i]].item<double>();
            tr += c[i][ref[i]].item<double>();
        }
        CHECK(tf == Approx(tr).epsilon(1e-12));
        auto sorted = fast;
        std::sort(sorted.begin(), sorted.end());
        for (int64_t i = 0; i < n; ++i) REQUIRE(sorted[i] == i);
    }
    // x0 = permuted x1 → OT recovers the permutation: targets are exactly zero... after replacement p = 1.
    at::Tensor x1 = at::randn({2, 16, 25}, gen, at::kFloat);
    CfmDraws d;
    d.x0 = at::randn({2, 16, 25}, gen, at::kFloat);
    d.t = at::tensor({0.0f, 1.0f});
    d.pair_draws = at::randint(16, {2, 16}, gen, at::kLong);
    d.replace_u = at::rand({2, 16, 25}, gen, at::kFloat);
    d.replace_p = 1.0;
    auto pr = cfm_pairs(x1, d);
    CHECK(pr.target.abs().max().item<float>() == 0.0f);
    // Without replacement: x_t at t=0 is a noise row, at t=1 a data row; target = x1' − x0'.
    d.replace_p = 0;
    pr = cfm_pairs(x1, d);
    at::Tensor x0_rows = d.x0[0].index_select(0, d.pair_draws[0]);
    CHECK(test::max_abs_diff(pr.x_t[0], x0_rows) == 0);
    CHECK(test::max_abs_diff(pr.x_t[1] - pr.target[1], d.x0[1].index_select(0, d.pair_draws[1])) < 1e-6);
    CHECK(completion_probability(0.1) == 0.0);
    CHECK(completion_probability(0.6) == Approx(0.5));
    CHECK(completion_probability(1.0) == 1.0);
}

TEST_CASE("train config: strict keys, overrides, YAML round trip", "[models][config]") {
    auto dir = test::temp_dir();
    std::ofstream(dir + "/ok.yaml") << "data:\n  root: mash\nmodel:\n  width: 64\n  heads: 4\ntrain:\n  steps: 7\n";
    auto c = load_train_config(dir + "/ok.yaml");
    CHECK(c.width == 64);
    CHECK(c.depth == 24);  // default kept
    CHECK(c.data_root == (std::filesystem::path(dir) / "mash").lexically_normal().string());
    auto back = parse_train_config(c.to_yaml(), "stored");
    CHECK(back.to_yaml() == c.to_yaml());
    apply_train_override(c, "train.steps=9");
    CHECK(c.steps == 9);
    std::ofstream(dir + "/bad1.yaml") << "model:\n  widht: 64\n";
    CHECK_THROWS_WITH(load_train_config(dir + "/bad1.yaml"), Catch::Contains("bad1.yaml") && Catch::Contains("model.widht"));
    std::ofstream(dir + "/bad2.yaml") << "modle:\n  width: 64\n";
    CHECK_THROWS_WITH(load_train_config(dir + "/bad2.yaml"), Catch::Contains("unknown section 'modle'"));
    std::ofstream(dir + "/bad3.yaml") << "model:\n  width: 60\n  heads: 8\n";
    CHECK_THROWS_WITH(load_train_config(dir + "/bad3.yaml"), Catch::Contains("model.width"));
    std::ofstream(dir + "/bad4.yaml") << "objective:\n  type: ddpm\n";
    CHECK_THROWS_AS(load_train_config(dir + "/bad4.yaml"), ConfigError);
    CHECK_THROWS_AS(apply_train_override(c, "train.steps=abc"), ConfigError);
}

TEST_CASE("a tiny model overfits two shapes (loss falls >= 10x)", "[models][train][slow]") {
    // One anchor per shape: the flow-matching target is then a deterministic function of
    // (x_t, t, category), so a model that memorizes the data drives the loss towards 0. (With many
    // anchors the per-shape OT pairing leaves a part a tiny net cannot learn in a unit-test budget:
    // at A = 16 the loss falls about 3x in 400 steps; see the experiment's loss curve for real data.)
    MashSet s = synthetic_set(2, 1, 11);
    TrainConfig c = tiny_config();
    c.width = 64;
    c.heads = 4;
    c.time_channels = 32;
    c.cond_dropout = 0;
    c.completion_trick = false;
    c.lr = 3e-3;
    c.warmup_steps = 20;
    Trainer tr(c, s, s, "");
    double first = 0, last = 0;
    const int n = 1500;
    for (int i = 0; i < n; ++i) {
        double l = tr.step();
        if (i < 10) first += l / 10;
        if (i >= n - 50) last += l / 50;
    }
    INFO("first-10 mean loss " << first << ", last-50 mean loss " << last);
    CHECK(last * 10 <= first);
}

TEST_CASE("cuda: two training steps on the GPU give the CPU losses to 1e-4", "[models][train][cuda]") {
    if (!mash::ops::cuda_available()) {
        WARN("skipped: no CUDA device" << (mash::ops::cuda_built() ? "" : " (CPU-only build)"));
        return;
    }
    MashSet s = synthetic_set(8, 64, 23);
    TrainConfig c = tiny_config();
    c.width = 64;
    c.heads = 4;
    c.batch_size = 4;
    Trainer cpu(c, s, s, "", 0, 1, nullptr, "cpu");
    Trainer gpu(c, s, s, "", 0, 1, nullptr, "cuda");
    for (int i = 0; i < 2; ++i) {
        const double lc = cpu.step(), lg = gpu.step();
        INFO("step " << i + 1 << ": CPU loss " << lc << ", GPU loss " << lg);
        CHECK(std::abs(lc - lg) <= 1e-4 * std::max(1.0, std::abs(lc)));
    }
}

TEST_CASE("checkpoint resume reproduces the next step exactly, corrupt checkpoints fail clearly", "[models][train]") {
    MashSet s = synthetic_set(4, 12, 12);
    TrainConfig c = tiny_config();
    auto dir = test::temp_dir();
    Trainer a(c, s, s, "");
    for (int i = 0; i < 4; ++i) a.step();
    a.save_checkpoint(dir + "/ck.pt");
    double next_a = a.step();
    double next_a2 = a.step();
    Trainer b(c, s, s, "");
    b.load_checkpoint(dir + "/ck.pt");
    CHECK(b.steps_done() == 4);
    CHECK(b.step() == next_a);
    CHECK(b.step() == next_a2);
    // Generation from the checkpoint.
    auto g = Generator::load(dir + "/ck.pt");
    CHECK(g.step == 4);
    CHECK(g.categories == std::vector<std::string>{"c0", "c1"});
    SampleRequest r;
    r.num = 2;
    r.categories = {0, 1};
    r.steps = 3;
    r.fixed_tokens = s.tokens[0].narrow(0, 0, 5);
    auto res = sample(g, r);
    CHECK(res.tokens.sizes() == at::IntArrayRef({2, 12, 25}));
    at::Tensor fn = g.normalizer.forward(r.fixed_tokens).to(at::kFloat);
    CHECK(at::equal(res.normalized[1].narrow(0, 0, 5), fn));
    CHECK(test::max_abs_diff(res.tokens[0].narrow(0, 0, 5), r.fixed_tokens) < 1e-5);
    // Corrupt / truncated / wrong files.
    std::ofstream(dir + "/junk.pt") << "not a checkpoint";
    CHECK_THROWS_WITH(Generator::load(dir + "/junk.pt"), Catch::Contains("junk.pt") && Catch::Contains("not a usable"));
    {
        std::ifstream in(dir + "/ck.pt", std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), {});
        std::ofstream(dir + "/trunc.pt", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
    }
    CHECK_THROWS_AS(Generator::load(dir + "/trunc.pt"), IoError);
    CHECK_THROWS_WITH(Generator::load(dir + "/missing.pt"), Catch::Contains("not found"));
}

TEST_CASE("EDM objective trains and samples with frozen anchors", "[models][edm]") {
    MashSet s = synthetic_set(2, 10, 13);
    TrainConfig c = tiny_config();
    c.objective = models::Objective::kEdm;
    c.sample_steps = 4;
    auto dir = test::temp_dir();
    Trainer tr(c, s, s, "");
    double l0 = tr.step();
    for (int i = 0; i < 30; ++i) tr.step();
    CHECK(std::isfinite(l0));
    tr.save_checkpoint(dir + "/e.pt");
    auto g = Generator::load(dir + "/e.pt");
    SampleRequest r;
    r.categories = {1};
    r.fixed_tokens = s.tokens[1].narrow(0, 0, 3);
    auto res = sample(g, r);
    CHECK(res.stats.nfe == 7);
    CHECK(at::equal(res.normalized[0].narrow(0, 0, 3), g.normalizer.forward(r.fixed_tokens).to(at::kFloat)));
}

TEST_CASE("generation metrics: hand-derived MMD / COV / 1-NNA and FID", "[models][evalgen]") {
    // Two generated (g0, g1), two reference (r0, r1). CD: g0 near r0, g1 also nearest r0.
    std::vector<double> gr = {0.1, 0.9, 0.2, 0.8};  // [g][r]
    std::vector<double> gg = {0, 0.5, 0.5, 0};
    std::vector<double> rr = {0, 1.0, 1.0, 0};
    GenEvalResult r;
    distribution_metrics(gr, gg, rr, 2, 2, r);
    CHECK(r.mmd_cd == Approx((0.1 + 0.8) / 2));
    CHECK(r.cov_cd == Approx(0.5));
    // 1-NN: g0 → r0 (0.1 < 0.5) wrong; g1 → r0 (0.2) wrong; r0 → g0 (0.1 < 1) wrong; r1 → g1 (0.8 < 1) wrong.
    CHECK(r.nna_cd == Approx(0.0));
    // Chamfer of identical clouds is 0, of a shifted single point is 2·d².
    std::vector<std::vector<double>> A = {{0, 0, 0, 1, 0, 0}}, B = {{0, 0, 0.5, 1, 0, 0.5}};
    CHECK(chamfer_matrix(A, A)[0] == 0.0);
    CHECK(chamfer_matrix(A, B)[0] == Approx(2 * 0.25));
    // FID: equal covariances, means shifted by s → ‖s‖².
    auto gen = test::make_gen(6);
    at::Tensor fa = at::randn({200, 3}, gen, at::kDouble);
    at::Tensor fb = fa + at::tensor({1.0, 2.0, 0.0}, at::kDouble);
    std::vector<double> va(fa.data_ptr<double>(), fa.data_ptr<double>() + fa.numel());
    std::vector<double> vb(fb.data_ptr<double>(), fb.data_ptr<double>() + fb.numel());
    double fid = 0, kid = 0;
    feature_metrics(va, 200, va, 200, 3, fid, kid);
    CHECK(std::abs(fid) < 1e-9);
    feature_metrics(va, 200, vb, 200, 3, fid, kid);
    CHECK(fid == Approx(5.0).epsilon(1e-9));
    CHECK(kid > 0.1);
}

TEST_CASE("training device: process k of a node trains on cuda:k", "[models][distributed]") {
    using models::DistEnv;
    DistEnv e;
    for (int k : {0, 1, 3, 7}) {
        e.local_rank = k;
        e.rank = 8 + k;
        e.world_size = 16;
        CHECK(models::training_device("cuda", e) == "cuda:" + std::to_string(k));
        CHECK(models::training_device("cuda:0", e) == "cuda:" + std::to_string(k));
        CHECK(models::training_device("cpu", e) == "cpu");
    }
    CHECK_THROWS_AS(models::training_device("tpu", e), ConfigError);
}

TEST_CASE("canonical anchor order: sorted by Morton code, independent of the file order", "[models][tokens]") {
    auto gen = mash::test::make_gen(11);
    auto tok = at::randn({3, 50, 25}, gen, at::TensorOptions().dtype(at::kDouble));
    auto a = models::canonical_anchor_order(tok);
    auto perm = at::randperm(50, gen, at::TensorOptions().dtype(at::kLong));
    auto b = models::canonical_anchor_order(tok.index_select(1, perm));
    CHECK(at::equal(a, b));
    // the same rows, reordered
    CHECK(at::equal(std::get<0>(a.sum(2).sort(1)), std::get<0>(tok.sum(2).sort(1))));
    // along x alone (y, z constant) the order is by x
    auto line = at::zeros({10, 25}, at::TensorOptions().dtype(at::kDouble));
    line.select(1, 6).copy_(at::tensor(std::vector<double>{5, 3, 9, 1, 0, 2, 8, 7, 6, 4}, at::kDouble));
    auto sorted = models::canonical_anchor_order(line);
    CHECK(at::equal(sorted.select(1, 6), at::arange(10, at::TensorOptions().dtype(at::kDouble))));
}

TEST_CASE("flow-matching pairs without OT pair row i with row i", "[models][cfm]") {
    auto gen = mash::test::make_gen(12);
    models::CfmDraws d;
    auto x1 = at::randn({2, 8, 5}, gen, at::TensorOptions().dtype(at::kFloat));
    d.x0 = at::randn({2, 8, 5}, gen, at::TensorOptions().dtype(at::kFloat));
    d.t = at::tensor(std::vector<float>{0.25f, 0.75f});
    d.pair_draws = at::randint(8, {2, 8}, gen, at::TensorOptions().dtype(at::kLong));
    d.ot = false;
    auto p = models::cfm_pairs(x1, d);
    CHECK(mash::test::max_abs_diff(p.target, x1 - d.x0) < 1e-7);
    CHECK(mash::test::max_abs_diff(p.x_t[0], 0.25 * x1[0] + 0.75 * d.x0[0]) < 1e-6);
}

#include "models/train_data.h"

TEST_CASE("training folders: a symlinked MASH file keeps the category of its link", "[models][data]") {
    namespace fs = std::filesystem;
    const fs::path root = fs::path(mash::test::temp_dir()) / "split";
    fs::remove_all(root);
    fs::create_directories(root / "train" / "animal");
    fs::create_directories(root / "store");
    const std::string src = mash::test::test_data("mash_small/animal/cow.npz");
    fs::copy_file(src, root / "store" / "cow.npz");
    fs::create_symlink(root / "store" / "cow.npz", root / "train" / "animal" / "cow.npz");
    fs::copy_file(mash::test::test_data("mash_small/object/rotor.npz"), root / "train" / "rotor.npz");
    for (const std::string& r : {(root / "train").string(), (root / "train").string() + "/"}) {
        auto set = models::load_mash_folder(r, models::Normalize::kBox, models::CategoryTable::kDataset);
        REQUIRE(set.size() == 2);
        CHECK(set.category_names == std::vector<std::string>{"animal", "default"});
    }
}

TEST_CASE("epoch order: every shape once per epoch, seeded, a function of the global batch only", "[models][data]") {
    const int64_t S = 10, Bg = 4;
    std::vector<int64_t> seq;
    for (int64_t s = 0; s < 5; ++s) {
        auto b = models::epoch_batch(7, s, Bg, S);
        REQUIRE(b.size() == size_t(Bg));
        seq.insert(seq.end(), b.begin(), b.end());
    }
    for (int e = 0; e < 2; ++e) {  // two whole epochs: permutations of 0..S-1
        std::vector<int64_t> ep(seq.begin() + e * S, seq.begin() + (e + 1) * S);
        std::sort(ep.begin(), ep.end());
        for (int64_t i = 0; i < S; ++i) CHECK(ep[size_t(i)] == i);
    }
    CHECK(std::vector<int64_t>(seq.begin(), seq.begin() + S) != std::vector<int64_t>(seq.begin() + S, seq.end()));
    CHECK(models::epoch_batch(7, 3, Bg, S) == models::epoch_batch(7, 3, Bg, S));
    CHECK(models::epoch_batch(8, 0, 10, S) != models::epoch_batch(7, 0, 10, S));
    // the same positions of the sequence whatever the global batch is split into
    auto one = models::epoch_batch(7, 1, 8, S);                                     // positions 8..15
    auto a = models::epoch_batch(7, 2, 4, S), b = models::epoch_batch(7, 3, 4, S);  // positions 8..11, 12..15
    a.insert(a.end(), b.begin(), b.end());
    CHECK(one == a);
}
