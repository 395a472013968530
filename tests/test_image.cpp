// SPDX-License-Identifier: MIT
// Image conditioning: preprocessing, encoder checks, feature cache, image-conditioned model.
#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "mash/core/errors.h"
#include "models/feature_store.h"
#include "models/generator.h"
#include "models/image_encoder.h"
#include "models/trainer.h"
#include "tests/support/support.h"

using namespace mash;
using namespace mash::models;
namespace fs = std::filesystem;

TEST_CASE("image preprocessing matches hand-computed pixels", "[image]") {
    // rgba_2x2.png: (255,0,0,a=128) (0,255,0,255) / (0,0,255,a=0) (100,100,100,255).
    at::Tensor img = load_image_u8(test::test_data("rgba_2x2.png"));
    REQUIRE(img.sizes() == at::IntArrayRef({2, 2, 4}));
    REQUIRE(img.scalar_type() == at::kByte);
    auto px = [](const at::Tensor& t, int r, int c, int ch) { return int(t[r][c][ch].item<uint8_t>()); };
    CHECK(px(img, 0, 0, 3) == 128);
    CHECK(px(img, 1, 0, 2) == 255);
    // The original drops alpha (PIL convert('RGB')): the hidden colour stays.
    at::Tensor drop = image_rgb_u8(img, ImageAlpha::kDrop);
    REQUIRE(drop.sizes() == at::IntArrayRef({2, 2, 3}));
    CHECK((px(drop, 0, 0, 0) == 255 && px(drop, 0, 0, 1) == 0));
    CHECK((px(drop, 1, 0, 0) == 0 && px(drop, 1, 0, 2) == 255));
    // White: c·a + 255·(1 − a), rounded: red at a = 128/255 → (255, 127, 127); a = 0 → white.
    at::Tensor white = image_rgb_u8(img, ImageAlpha::kWhite);
    CHECK((px(white, 0, 0, 0) == 255 && px(white, 0, 0, 1) == 127 && px(white, 0, 0, 2) == 127));
    CHECK((px(white, 1, 0, 0) == 255 && px(white, 1, 0, 1) == 255 && px(white, 1, 0, 2) == 255));
    CHECK((px(white, 1, 1, 0) == 100));
    EncoderInfo info;
    info.input_size = 2;
    info.mean = {0.485, 0.456, 0.406};
    info.std = {0.229, 0.224, 0.225};
    at::Tensor x = preprocess_image(img, info);  // same size: no resampling, /255 and normalization
    REQUIRE(x.sizes() == at::IntArrayRef({3, 2, 2}));
    CHECK(x[0][1][1].item<float>() == Approx((100.0 / 255.0 - 0.485) / 0.229));
    CHECK(x[2][1][0].item<float>() == Approx((1.0 - 0.406) / 0.225));
    CHECK(x[1][0][0].item<float>() == Approx((0.0 - 0.456) / 0.224));
    // Pillow's bilinear filter, derived by hand. Shrinking 4 → 2: support 2, weights (3, 3, 1)/7 and
    // (1, 3, 3)/7 → [0, 70, 140, 210] becomes [50, 160]. Growing 2 → 4: half-pixel centres, edge
    // pixels copied → [0, 200] becomes [0, 50, 150, 200].
    at::Tensor row = at::tensor({0, 70, 140, 210}, at::kByte).reshape({1, 4, 1});
    at::Tensor shrunk = resize_bilinear_pil(row, 1, 2);
    CHECK(at::equal(shrunk, at::tensor({50, 160}, at::kByte).reshape({1, 2, 1})));
    at::Tensor col = at::tensor({0, 200}, at::kByte).reshape({2, 1, 1});
    CHECK(at::equal(resize_bilinear_pil(col, 4, 1), at::tensor({0, 50, 150, 200}, at::kByte).reshape({4, 1, 1})));
    CHECK(at::equal(resize_bilinear_pil(img, 2, 2), img));  // same size: untouched
    CHECK_THROWS_WITH(load_image_u8(test::test_data("npm-bunny.obj")), Catch::Contains("npm-bunny.obj"));
    CHECK_THROWS_WITH(load_image_u8("/nonexistent.png"), Catch::Contains("/nonexistent.png: image not found"));
    CHECK_THROWS_WITH(config::flag_choice<ImageAlpha>("black", "--image-alpha"),
                      Catch::Contains("--image-alpha 'black': expected drop or white"));
    CHECK(!config::flag_choice<ImageAlpha>("", "--image-alpha").has_value());
}

TEST_CASE("image encoder: sidecar and output checks, clear errors, cache hit/miss", "[image]") {
    // The cache key of a file: FNV-1a from kCacheKeyBasis (value from an independent Python loop),
    // unchanged so that existing feature caches stay valid.
    CHECK(file_hash(test::test_data("rgba_2x2.png")) == "b047682de6faa3e6");
    const std::string enc_path = test::test_data("standin_encoder.pt");
    ImageEncoder enc(enc_path);
    CHECK(enc.info().input_size == 112);
    CHECK(enc.info().tokens == 69);
    CHECK(enc.info().width == 32);
    auto dir = test::temp_dir();
    // Wrong token count in the sidecar.
    fs::copy_file(enc_path, dir + "/e.pt", fs::copy_options::overwrite_existing);
    std::ofstream(dir + "/e.pt.json")
        << R"({"input_size": 112, "mean": [0.5,0.5,0.5], "std": [0.2,0.2,0.2], "tokens": 70, "width": 32})";
    CHECK_THROWS_WITH(ImageEncoder(dir + "/e.pt"),
                      Catch::Contains("e.pt") && Catch::Contains("[1, 69, 32]") && Catch::Contains("sidecar says [1, 70, 32]"));
    // Not TorchScript.
    fs::copy_file(test::test_data("rgba_2x2.png"), dir + "/f.pt", fs::copy_options::overwrite_existing);
    std::ofstream(dir + "/f.pt.json")
        << R"({"input_size": 112, "mean": [0.5,0.5,0.5], "std": [0.2,0.2,0.2], "tokens": 69, "width": 32})";
    CHECK_THROWS_WITH(ImageEncoder(dir + "/f.pt"), Catch::Contains("f.pt: not a loadable TorchScript file"));
    // A TorchScript module with another interface (points → features).
    fs::copy_file(test::test_data("pointnet_features.pt"), dir + "/g.pt", fs::copy_options::overwrite_existing);
    std::ofstream(dir + "/g.pt.json")
        << R"({"input_size": 112, "mean": [0.5,0.5,0.5], "std": [0.2,0.2,0.2], "tokens": 69, "width": 32})";
    CHECK_THROWS_WITH(ImageEncoder(dir + "/g.pt"), Catch::Contains("g.pt: the encoder failed"));
    // Missing sidecar.
    fs::copy_file(enc_path, dir + "/h.pt", fs::copy_options::overwrite_existing);
    CHECK_THROWS_WITH(ImageEncoder(dir + "/h.pt"), Catch::Contains("h.pt.json: sidecar not found"));
    // Cache: miss, then hit with identical values; a changed image misses.
    std::vector<std::string> files = {test::test_data("images/skimage_chelsea.png"),
                                      test::test_data("images/skimage_rocket.jpg")};
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
    // bfloat16 (the original's DINOv2 dtype): float32 tokens near the float32 run, not equal, and
    // cached apart from it.
    ImageEncoder bf(enc_path, EncoderDtype::kBFloat16);
    at::Tensor c = bf.encode_files(files, dir + "/cache", &hits);
    CHECK(hits == 0);
    CHECK(c.scalar_type() == at::kFloat);
    const double scale = a.abs().max().item<double>(), diff = (c - a).abs().max().item<double>();
    CHECK(diff > 0);
    CHECK(diff < 0.05 * scale);
    TrainConfig t;
    CHECK_THROWS_WITH(
        apply_train_override(t, "model.encoder_dtype=float64"),
        Catch::Contains("model.encoder_dtype = 'float64' is not a valid choice (expected float32, bfloat16 or float16)"));
}

TEST_CASE("feature store: records round-trip, resume after a partial fill, clear errors", "[image]") {
    const std::string dir = test::temp_dir() + "/feature_store";
    fs::remove_all(dir);
    auto gen = test::make_gen(5);
    at::Tensor tok = at::randn({7, 3, 4}, gen, at::kFloat);
    FeatureStoreSpec sp;
    sp.count = 7;
    sp.tokens = 3;
    sp.width = 4;
    sp.key = "k1";
    {
        auto st = FeatureStore::open(dir, sp, true);
        CHECK(st->missing().size() == 7);
        st->write(0, tok.narrow(0, 0, 3));  // a fill that stopped after three records
        st->write_rows({5}, tok.narrow(0, 5, 1));
        CHECK(st->missing() == std::vector<int64_t>{3, 4, 6});
    }
    auto st = FeatureStore::open(dir, sp, false);  // resumed: the flags survive
    CHECK(st->missing() == std::vector<int64_t>{3, 4, 6});
    st->write_rows({3, 4, 6}, tok.index_select(0, at::tensor({3, 4, 6}, at::kLong)));
    CHECK(st->missing().empty());
    at::Tensor rows = at::tensor({6, 0, 6, 2}, at::kLong);
    CHECK(at::equal(st->read(rows), tok.index_select(0, rows)));  // float32: exact
    CHECK_THROWS_AS(st->read(at::tensor({7}, at::kLong)), InputError);
    FeatureStoreSpec other = sp;
    other.key = "k2";
    CHECK_THROWS_WITH(FeatureStore::open(dir, other, true), Catch::Contains("holds another feature store"));
    CHECK_THROWS_WITH(FeatureStore::open(dir + "_none", sp, false), Catch::Contains("no feature store here"));
    // float16: half the bytes, values rounded to half precision.
    FeatureStoreSpec h = sp;
    h.dtype = "float16";
    auto sh = FeatureStore::open(dir + "_half", h, true);
    CHECK(sh->record_bytes() * 2 == st->record_bytes());
    sh->write(0, tok);
    CHECK(at::equal(sh->read(at::arange(7, at::kLong)), tok.to(at::kHalf).to(at::kFloat)));
    // A truncated data file is an error naming the folder.
    fs::resize_file(dir + "_half/features.bin", 10);
    CHECK_THROWS_WITH(FeatureStore::open(dir + "_half", h, false), Catch::Contains("wrong size"));
}

TEST_CASE("a tiny image-conditioned model learns two shapes and generates the right one per image", "[image][train][slow]") {
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
    const std::vector<std::string> imgs = {test::test_data("images/skimage_chelsea.png"),
                                           test::test_data("images/skimage_rocket.jpg")};
    s.images = {{imgs[0]}, {imgs[1]}};
    TrainConfig c;
    c.width = 64;
    c.depth = 2;
    c.heads = 4;
    c.time_channels = 32;
    c.context_dim = 64;
    c.condition = models::ConditionKind::kImage;
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
