// SPDX-License-Identifier: MIT
// Image conditioning (#7): preprocessing, encoder checks, feature cache, image-conditioned model.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "mash/core/errors.h"
#include "models/generator.h"
#include "models/image_encoder.h"
#include "models/trainer.h"
#include "tests/support/support.h"

using namespace mash;
using namespace mash::models;
namespace fs = std::filesystem;

TEST_CASE("image preprocessing matches hand-computed pixels", "[image]") {
    // rgba_2x2.png: (255,0,0,a=128) (0,255,0,255) / (0,0,255,a=0) (100,100,100,255).
    at::Tensor img = load_image_rgb(test::test_data("rgba_2x2.png"));
    REQUIRE(img.sizes() == at::IntArrayRef({2, 2, 3}));
    const double a = 128.0 / 255.0;
    CHECK(img[0][0][0].item<float>() == Approx(1.0 * a + (1 - a)));  // red over white
    CHECK(img[0][0][1].item<float>() == Approx(1 - a));
    CHECK(img[0][1][1].item<float>() == Approx(1.0));
    CHECK(img[0][1][0].item<float>() == Approx(0.0));
    CHECK(img[1][0][2].item<float>() == Approx(1.0));                 // transparent → white
    CHECK(img[1][0][0].item<float>() == Approx(1.0));
    CHECK(img[1][1][1].item<float>() == Approx(100.0 / 255.0));
    EncoderInfo info;
    info.input_size = 2;
    info.mean = {0.485, 0.456, 0.406};
    info.std = {0.229, 0.224, 0.225};
    at::Tensor x = preprocess_image(img, info);  // same size: no resampling, just normalization
    REQUIRE(x.sizes() == at::IntArrayRef({3, 2, 2}));
    CHECK(x[0][1][1].item<float>() == Approx((100.0 / 255.0 - 0.485) / 0.229));
    CHECK(x[1][0][0].item<float>() == Approx(((1 - a) - 0.456) / 0.224));
    CHECK(x[2][1][0].item<float>() == Approx((1.0 - 0.406) / 0.225));
    // Resize 2x2 → 4x4 (bilinear, half-pixel centres): the corner keeps its value, an inner
    // pixel at (1,1) maps to source (0.25, 0.25) → 0.75²·p00 + 0.75·0.25·(p01 + p10) + 0.25²·p11.
    info.input_size = 4;
    at::Tensor y = preprocess_image(img, info);
    CHECK(y[0][0][0].item<float>() == Approx(x[0][0][0].item<float>()));
    auto p = [&](int r, int c) { return x[0][r][c].item<double>(); };
    CHECK(y[0][1][1].item<float>() == Approx(0.5625 * p(0, 0) + 0.1875 * (p(0, 1) + p(1, 0)) + 0.0625 * p(1, 1)));
    CHECK_THROWS_WITH(load_image_rgb(test::test_data("npm-bunny.obj")), Catch::Contains("npm-bunny.obj"));
    CHECK_THROWS_WITH(load_image_rgb("/nonexistent.png"), Catch::Contains("/nonexistent.png: image not found"));
}

TEST_CASE("image encoder: sidecar and output checks, clear errors, cache hit/miss", "[image]") {
    const std::string enc_path = test::test_data("standin_encoder.pt");
    ImageEncoder enc(enc_path);
    CHECK(enc.info().input_size == 112);
    CHECK(enc.info().tokens == 69);
    CHECK(enc.info().width == 32);
    auto dir = test::temp_dir();
    // Wrong token count in the sidecar.
    fs::copy_file(enc_path, dir + "/e.pt", fs::copy_options::overwrite_existing);
    std::ofstream(dir + "/e.pt.json") << R"({"input_size": 112, "mean": [0.5,0.5,0.5], "std": [0.2,0.2,0.2], "tokens": 70, "width": 32})";
    CHECK_THROWS_WITH(ImageEncoder(dir + "/e.pt"), Catch::Contains("e.pt") && Catch::Contains("[1, 69, 32]") &&
                                                       Catch::Contains("sidecar says [1, 70, 32]"));
    // Not TorchScript.
    fs::copy_file(test::test_data("rgba_2x2.png"), dir + "/f.pt", fs::copy_options::overwrite_existing);
    std::ofstream(dir + "/f.pt.json") << R"({"input_size": 112, "mean": [0.5,0.5,0.5], "std": [0.2,0.2,0.2], "tokens": 69, "width": 32})";
    CHECK_THROWS_WITH(ImageEncoder(dir + "/f.pt"), Catch::Contains("f.pt: not a loadable TorchScript file"));
    // A TorchScript module with another interface (points → features).
    fs::copy_file(test::test_data("pointnet_features.pt"), dir + "/g.pt", fs::copy_options::overwrite_existing);
    std::ofstream(dir + "/g.pt.json") << R"({"input_size": 112, "mean": [0.5,0.5,0.5], "std": [0.2,0.2,0.2], "tokens": 69, "width": 32})";
    CHECK_THROWS_WITH(ImageEncoder(dir + "/g.pt"), Catch::Contains("g.pt: the encoder failed"));
    // Missing sidecar.
    fs::copy_file(enc_path, dir + "/h.pt", fs::copy_options::overwrite_existing);
    CHECK_THROWS_WITH(ImageEncoder(dir + "/h.pt"), Catch::Contains("h.pt.json: sidecar not found"));
    // Cache: miss, then hit with identical values; a changed image misses.
    std::vector<std::string> files = {test::test_data("images/skimage_chelsea.png"), test::test_data("images/skimage_rocket.jpg")};
    int64_t hits = -1;
    at::Tensor a = enc.encode_files(files, dir + "/cache", &hits);
    CHECK(hits == 0);
    CHECK(a.sizes() == at::IntArrayRef({2, 69, 32}));
    at::Tensor b = enc.encode_files(files, dir + "/cache", &hits);
    CHECK(hits == 2);
    CHECK(at::equal(a, b));
    CHECK(at::equal(a, enc.encode_files(files, "", &hits)));
    fs::copy_file(test::test_data("rgba_2x2.png"), dir + "/img.png", fs::copy_options::overwrite_existing);
    enc.encode_files({dir + "/img.png"}, dir + "/cache", &hits);
    CHECK(hits == 0);
    enc.encode_files({dir + "/img.png"}, dir + "/cache", &hits);
    CHECK(hits == 1);
    // Distinct images give distinct tokens.
    CHECK((a[0] - a[1]).abs().max().item<float>() > 1e-3);
}

TEST_CASE("a tiny image-conditioned model learns two shapes and generates the right one per image", "[image][train]") {
    auto gen = test::make_gen(21);
    MashSet s;
    s.layout = {3, 2};
    std::vector<at::Tensor> toks;
    for (int i = 0; i < 2; ++i) {
        MashParams p = MashParams::zeros(1, 3, 2);
        at::Tensor r = at::randn({25}, gen, at::kDouble);
        std::copy(r.data_ptr<double>(), r.data_ptr<double>() + 3, p.rotate_vectors.begin());
        std::copy(r.data_ptr<double>() + 3, r.data_ptr<double>() + 6, p.positions.begin());
        std::copy(r.data_ptr<double>() + 6, r.data_ptr<double>() + 13, p.mask_params.begin());
        std::copy(r.data_ptr<double>() + 13, r.data_ptr<double>() + 22, p.sh_params.begin());
        toks.push_back(tokens_from_mash(p));
        s.keys.push_back("x/s" + std::to_string(i));
        s.category.push_back(0);
    }
    s.category_names = {"x"};
    s.tokens = at::stack(toks);
    const std::vector<std::string> imgs = {test::test_data("images/skimage_chelsea.png"), test::test_data("images/skimage_rocket.jpg")};
    s.images = {{imgs[0]}, {imgs[1]}};
    TrainConfig c;
    c.width = 64;
    c.depth = 2;
    c.heads = 4;
    c.time_channels = 32;
    c.context_dim = 64;
    c.condition = "image";
    c.encoder = test::test_data("standin_encoder.pt");
    c.image_root = "unused";
    c.image_dim = 32;
    c.cond_dropout = 0;
    c.completion_trick = false;
    c.batch_size = 2;
    c.lr = 3e-3;
    c.lr_batch_size = 2;
    c.warmup_steps = 20;
    c.ema_ramp_steps = 10;
    c.ema_end = 0.99;
    c.val_samples = 0;
    c.sample_steps = 20;
    auto dir = test::temp_dir();
    Trainer tr(c, s, s, "");
    for (int i = 0; i < 1200; ++i) tr.step();
    tr.save_checkpoint(dir + "/img.pt");
    auto g = Generator::load(dir + "/img.pt");
    ImageEncoder enc(c.encoder);
    at::Tensor normalized = g.normalizer.forward(s.tokens);  // [2, 1, 25]
    for (int i = 0; i < 2; ++i) {
        SampleRequest r;
        r.num = 4;
        r.image_tokens = enc.encode_files({imgs[i]}, "").expand({4, 69, 32}).contiguous();
        auto res = sample(g, r);
        at::Tensor out = res.normalized.to(at::kDouble);  // [4, 1, 25]
        double d_right = (out - normalized[i]).pow(2).mean().item<double>();
        double d_wrong = (out - normalized[1 - i]).pow(2).mean().item<double>();
        INFO("image " << i << ": mean squared distance to its shape " << d_right << ", to the other " << d_wrong);
        CHECK(d_right * 4 < d_wrong);
    }
}
