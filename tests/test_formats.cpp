// SPDX-License-Identifier: MIT
// npy / npz / pickled-dict readers and writers, and MASH file load/save (torch-free TU).
#include <zlib.h>

#include <catch2/catch.hpp>
#ifndef MASH_WITHOUT_OPEN3D
#include <open3d/geometry/Image.h>
#include <open3d/io/ImageIO.h>
#endif

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "mash/core/errors.h"
#include "mash/core/files.h"
#include "mash/formats/npy.h"
#include "mash/formats/pickle.h"
#include "mash/formats/png.h"
#include "mash/formats/zip.h"
#include "mash/io/mash_file.h"
#include "tests/support/paths.h"

using namespace mash;
using namespace mash::io;
using namespace mash::formats;

namespace {
std::vector<uint8_t> bytes_of(const std::string& path) { return read_file(path); }

MashParams random_params(int64_t A, int64_t K, int64_t L, unsigned seed) {
    MashParams p = MashParams::zeros(A, K, L);
    srand(seed);
    auto fill = [](std::vector<double>& v) {
        for (auto& x : v) x = (rand() / double(RAND_MAX) - 0.5) * 0.7;
    };
    fill(p.mask_params);
    fill(p.sh_params);
    fill(p.rotate_vectors);
    fill(p.positions);
    for (int64_t a = 0; a < A; ++a) p.sh_params[a * p.sh_dim()] = 0.2 + 0.01 * a;
    return p;
}

bool same_params(const MashParams& a, const MashParams& b) {
    return a.num_anchors == b.num_anchors && a.mask_degree == b.mask_degree && a.sh_degree == b.sh_degree &&
           a.mask_params == b.mask_params && a.sh_params == b.sh_params && a.rotate_vectors == b.rotate_vectors &&
           a.positions == b.positions && a.use_inverse == b.use_inverse;
}
}  // namespace

TEST_CASE("npy: serialize/parse round trip is bit-exact for every dtype", "[io][npy]") {
    std::vector<NpyArray> arrays = {
        NpyArray::from_double({1.5, -2.25, 1e-300, 3.0, 0.0, -0.0}, {2, 3}),
        NpyArray::from_float({1.5f, -2.25f}, {2}),
        NpyArray::from_int64({-5, 7, int64_t(1) << 60}, {3, 1}),
        NpyArray::scalar_bool(true),
        NpyArray::from_double({}, {0, 3}),
    };
    for (const auto& a : arrays) {
        auto bytes = serialize_npy(a);
        REQUIRE(bytes.size() % 64 == a.data.size() % 64);  // header padded to 64 bytes
        auto b = parse_npy(bytes.data(), bytes.size(), "mem");
        CHECK(b.shape == a.shape);
        CHECK(b.kind == a.kind);
        CHECK(b.itemsize == a.itemsize);
        CHECK(b.data == a.data);
        CHECK(serialize_npy(b) == bytes);
    }
}

TEST_CASE("npy: reads numpy's Fortran-order big-endian and int16 files", "[io][npy]") {
    auto f = bytes_of(mash::test::test_data("fortran_bigendian.npy"));
    auto a = parse_npy(f.data(), f.size(), "fortran");
    REQUIRE(a.shape == std::vector<int64_t>{2, 3});
    // C-order values of arange(6).reshape(2,3) + 0.5
    CHECK(a.to_double() == std::vector<double>{0.5, 1.5, 2.5, 3.5, 4.5, 5.5});
    auto g = bytes_of(mash::test::test_data("int16_vector.npy"));
    auto b = parse_npy(g.data(), g.size(), "int16");
    CHECK(b.to_int64("int16") == std::vector<int64_t>{1, -2, 300});
}

TEST_CASE("npz: reads numpy's stored and deflate archives", "[io][npz]") {
    for (const char* name : {"numpy_deflate.npz", "numpy_stored.npz"}) {
        auto bytes = bytes_of(mash::test::test_data(name));
        auto arrays = parse_npz(bytes.data(), bytes.size(), name);
        REQUIRE(arrays.size() == 3);
        CHECK(arrays[0].first == "a");
        CHECK(arrays[0].second.shape == std::vector<int64_t>{3, 4});
        auto a = arrays[0].second.to_double();
        for (int i = 0; i < 12; ++i) CHECK(a[i] == double(float(i) / 7.0f));
        CHECK(arrays[1].second.to_int64("b") == std::vector<int64_t>{-3, 0, 7, int64_t(1) << 40, -(int64_t(1) << 50)});
        CHECK(arrays[2].second.shape.empty());
        CHECK(arrays[2].second.to_double()[0] == (std::string(name) == "numpy_deflate.npz" ? 1.0 : 0.0));
    }
}

TEST_CASE("npz: write → read round trip, stored and deflate", "[io][npz]") {
    NamedArrays in = {{"x", NpyArray::from_double({1, 2, 3, 4, 5, 6}, {3, 2})}, {"flag", NpyArray::scalar_bool(true)}};
    for (bool deflate : {false, true}) {
        auto bytes = serialize_npz(in, deflate);
        auto out = parse_npz(bytes.data(), bytes.size(), "mem");
        REQUIRE(out.size() == 2);
        CHECK(out[0].first == "x");
        CHECK(out[0].second.data == in[0].second.data);
        CHECK(serialize_npz(out, deflate) == bytes);
    }
}

TEST_CASE("npz/npy: corrupt input gives a clear IoError", "[io][errors]") {
    NamedArrays in = {{"x", NpyArray::from_double(std::vector<double>(100, 1.25), {50, 2})}};
    auto good = serialize_npz(in, false);
    SECTION("truncated archive") {
        std::vector<uint8_t> cut(good.begin(), good.begin() + good.size() / 2);
        CHECK_THROWS_WITH(parse_npz(cut.data(), cut.size(), "cut.npz"), Catch::Contains("cut.npz"));
    }
    SECTION("flipped payload byte → CRC mismatch") {
        auto bad = good;
        bad[200] ^= 0x5a;
        CHECK_THROWS_WITH(parse_npz(bad.data(), bad.size(), "bad.npz"), Catch::Contains("CRC mismatch"));
    }
    SECTION("truncated npy data") {
        auto npy = serialize_npy(in[0].second);
        npy.resize(npy.size() - 8);
        CHECK_THROWS_WITH(parse_npy(npy.data(), npy.size(), "t.npy"), Catch::Contains("data size mismatch"));
    }
    SECTION("not npy at all") {
        std::string s = "hello world, definitely not numpy";
        CHECK_THROWS_AS(parse_npy(reinterpret_cast<const uint8_t*>(s.data()), s.size(), "x"), IoError);
    }
    SECTION("absurd shape") {
        std::string h = "{'descr': '<f8', 'fortran_order': False, 'shape': (999999999999, 999999999999), }";
        std::vector<uint8_t> b = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, uint8_t(h.size()), 0};
        b.insert(b.end(), h.begin(), h.end());
        CHECK_THROWS_WITH(parse_npy(b.data(), b.size(), "big.npy"), Catch::Contains("too large"));
    }
}

TEST_CASE("pickle: refuses globals other than numpy's", "[io][pickle][errors]") {
    // np.save-style header for an object array, then a pickle that would call os.system.
    std::string h = "{'descr': '|O', 'fortran_order': False, 'shape': (), }";
    std::vector<uint8_t> b = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, uint8_t(h.size()), 0};
    b.insert(b.end(), h.begin(), h.end());
    std::string pk =
        "\x80\x03"
        "cos\nsystem\nX\x04\x00\x00\x00echo\x85R.";
    b.insert(b.end(), pk.begin(), pk.end());
    CHECK_THROWS_WITH(parse_pickled_dict_npy(b.data(), b.size(), "evil.npy"), Catch::Contains("os.system"));
}

TEST_CASE("pickle: reads the original implementation's dict files", "[io][pickle][golden]") {
    auto bytes = bytes_of(mash::test::test_data("mash_official/handmade_3anchor_legacy.npy"));
    auto d = parse_pickled_dict_npy(bytes.data(), bytes.size(), "handmade");
    REQUIRE(d.size() == 5);
    CHECK(d[0].first == "mask_params");
    CHECK(d[0].second.array.shape == std::vector<int64_t>{3, 5});
    CHECK(d[4].first == "use_inv");
    CHECK(d[4].second.is_bool);
    CHECK(d[4].second.bool_value);
    // Our writer → our reader → our writer is byte-identical.
    auto again = serialize_pickled_dict_npy(d);
    auto d2 = parse_pickled_dict_npy(again.data(), again.size(), "again");
    CHECK(serialize_pickled_dict_npy(d2) == again);
    for (size_t k = 0; k < 4; ++k) CHECK(d2[k].second.array.data == d[k].second.array.data);
}

TEST_CASE("pickle: reads protocol-2 files with numpy scalars", "[io][pickle]") {
    MashParams p = load_mash(mash::test::test_data("mash_pickle_proto2.npy"));
    CHECK(p.num_anchors == 2);
    CHECK(p.mask_degree == 1);
    CHECK(p.sh_degree == 1);
    CHECK_FALSE(p.use_inverse);
}

TEST_CASE("mash file: .npz and .npy save → load are bit-exact", "[io][mash_file]") {
    const std::string dir = mash::test::temp_dir();
    MashParams p = random_params(7, 3, 2, 1);
    p.use_inverse = false;
    for (const char* name : {"/rt.npz", "/rt_deflate.npz", "/rt.npy"}) {
        std::string path = dir + name;
        save_mash(path, p, std::string(name) == "/rt_deflate.npz");
        MashParams q = load_mash(path);
        CHECK(same_params(p, q));
    }
}

TEST_CASE("mash file: numpy opens our .npz and .npy", "[io][mash_file][numpy]") {
    const std::string dir = mash::test::temp_dir();
    MashParams p = random_params(5, 2, 3, 2);
    save_mash(dir + "/np.npz", p, true);
    save_mash(dir + "/np.npy", p);
    std::string cmd = std::string(MASH_PYTHON) + " -c \"import numpy as np; z=np.load('" + dir + "/np.npz'); d=np.load('" + dir +
                      "/np.npy', allow_pickle=True).item(); "
                      "assert z['sh_params'].shape==(5,16) and z['mask_params'].shape==(5,5); "
                      "assert z['rotate_vectors'].dtype==np.float64 and bool(z['use_inv']); "
                      "assert (d['positions']==z['positions']).all() and d['use_inv'] is True; "
                      "print(repr(float(z['positions'][1,2])))\" > " +
                      dir + "/np.out";
    REQUIRE(std::system(cmd.c_str()) == 0);
    std::ifstream f(dir + "/np.out");
    double v = 0;
    f >> v;
    CHECK(v == p.positions[5]);
}

TEST_CASE("mash file: bad inputs give one clear error naming the file", "[io][mash_file][errors]") {
    const std::string dir = mash::test::temp_dir();
    CHECK_THROWS_WITH(load_mash(dir + "/missing.npz"), Catch::Contains("missing.npz: no such file"));
    CHECK_THROWS_WITH(load_mash(mash::test::test_data("make_fixtures.py")), Catch::Contains("unsupported MASH file extension"));
    // A plain npz that lacks the MASH keys.
    CHECK_THROWS_WITH(load_mash(mash::test::test_data("numpy_stored.npz")), Catch::Contains("missing key 'mask_params'"));
    MashParams p = random_params(3, 1, 1, 3);
    auto arrays = [&](std::vector<int64_t> sh_shape) {
        return NamedArrays{{"rotate_vectors", NpyArray::from_double(p.rotate_vectors, {3, 3})},
                           {"positions", NpyArray::from_double(p.positions, {3, 3})},
                           {"mask_params", NpyArray::from_double(p.mask_params, {3, 3})},
                           {"sh_params", NpyArray::from_double(p.sh_params, sh_shape)},
                           {"use_inv", NpyArray::scalar_bool(true)}};
    };
    SECTION("wrong SH shape") {
        write_file_atomic(dir + "/badshape.npz", serialize_npz(arrays({4, 3}), false));
        CHECK_THROWS_WITH(load_mash(dir + "/badshape.npz"), Catch::Contains("'sh_params' has shape [4,3]"));
    }
    SECTION("non-square SH count") {
        p.sh_params.resize(6);
        write_file_atomic(dir + "/nonsquare.npz", serialize_npz(arrays({3, 2}), false));
        CHECK_THROWS_WITH(load_mash(dir + "/nonsquare.npz"), Catch::Contains("(L+1)^2"));
    }
    SECTION("NaN parameter") {
        p.positions[4] = std::nan("");
        write_file_atomic(dir + "/nan.npz", serialize_npz(arrays({3, 4}), false));
        CHECK_THROWS_WITH(load_mash(dir + "/nan.npz"), Catch::Contains("positions has a non-finite value"));
    }
    SECTION("truncated file") {
        auto bytes = serialize_npz(arrays({3, 4}), false);
        bytes.resize(bytes.size() - 30);
        write_file_atomic(dir + "/trunc.npz", bytes);
        CHECK_THROWS_AS(load_mash(dir + "/trunc.npz"), IoError);
    }
    SECTION("saving to an unsupported extension writes nothing") {
        CHECK_THROWS_AS(save_mash(dir + "/out.txt", p), IoError);
        CHECK_FALSE(std::filesystem::exists(dir + "/out.txt"));
    }
}

namespace {
std::vector<uint8_t> object_npy(const std::string& pickle) {
    const std::string h = "{'descr': '|O', 'fortran_order': False, 'shape': (), }";
    const std::string bytes = std::string("\x93NUMPY\x01\x00", 8) + char(h.size()) + '\0' + h + pickle;
    return std::vector<uint8_t>(bytes.begin(), bytes.end());
}
}  // namespace

TEST_CASE("pickle: deeply nested and self-referencing streams fail cleanly", "[io][pickle][errors]") {
    // 200k nested lists: a recursive destructor would overflow the stack here.
    std::string deep = "\x80\x03";
    deep += std::string(200000, ']') + std::string(199999, 'a') + ".";
    auto b = object_npy(deep);
    CHECK_THROWS_WITH(parse_pickled_dict_npy(b.data(), b.size(), "deep.npy"), Catch::Contains("deep.npy: invalid pickled"));
    // A list appended to itself (memo PUT/GET): a cycle must not leak or loop.
    std::string cyc = std::string("\x80\x03]q\x00h\x00") + "a.";
    auto c = object_npy(cyc);
    CHECK_THROWS_AS(parse_pickled_dict_npy(c.data(), c.size(), "cycle.npy"), IoError);
}

TEST_CASE("torch.save archive: the original generator checkpoints read natively", "[io][torch_archive][golden]") {
    for (std::string name : {"category_small", "image_small"}) {
        const std::string dir = mash::test::test_data("mash_diffusion_golden/");
        auto bytes = mash::read_file(dir + name + "_checkpoint.pth");
        auto ar = mash::formats::parse_torch_archive(bytes.data(), bytes.size(), name);
        std::map<std::string, const mash::formats::TorchArchive::Value*> by;
        for (auto& [k, v] : ar.entries) by[k] = &v;
        REQUIRE(by.count("model"));
        REQUIRE(by.count("ema_model"));
        CHECK(by["model"]->kind == mash::formats::TorchArchive::Value::kStateDict);
        CHECK(by["step"]->number == 12345);
        CHECK(by["epoch"]->number == 6);
        CHECK(std::isinf(by["loss_min"]->number));
        CHECK(by["ema_loss"]->number == Approx(0.123456).epsilon(1e-6));
        // Names, order and shapes as listed in the params JSON (state_dict order).
        std::ifstream f(dir + name + "_params.json");
        std::stringstream ss;
        ss << f.rdbuf();
        const std::string js = ss.str();
        const auto& sd = by["ema_model"]->state_dict;
        CHECK(sd.size() == 49);
        size_t pos = 0;
        int64_t total = 0;
        for (const auto& [k, a] : sd) {
            auto at = js.find("\"" + k + "\"", pos);
            INFO(k);
            REQUIRE(at != std::string::npos);  // present, and after the previous name
            pos = at;
            CHECK(a.kind == 'f');
            CHECK(a.itemsize == 4);
            total += a.numel();
        }
        CHECK(total == (name == "category_small" ? 242624 : 461568));
        CHECK(sd[0].first == "category_emb.weight");
        CHECK(sd[0].second.shape == std::vector<int64_t>{55, name == "category_small" ? 64 : 768});
    }
}

TEST_CASE("torch.save archive: refuses foreign globals, truncation and non-archives", "[io][torch_archive][errors]") {
    const std::string path = mash::test::test_data("mash_diffusion_golden/category_small_checkpoint.pth");
    auto bytes = mash::read_file(path);
    // Truncated.
    CHECK_THROWS_WITH(mash::formats::parse_torch_archive(bytes.data(), bytes.size() / 2, "x.pth"), Catch::StartsWith("x.pth: "));
    // A plain npz is a zip without data.pkl.
    auto npz = mash::read_file(mash::test::test_data("numpy_stored.npz"));
    CHECK_THROWS_WITH(mash::formats::parse_torch_archive(npz.data(), npz.size(), "y.npz"),
                      Catch::Contains("no <folder>/data.pkl"));
    // Replace the OrderedDict global by os.system (same length: "collections\nOrderedDict" → ...).
    auto entries = mash::formats::read_zip(bytes.data(), bytes.size(), "z");
    for (auto& e : entries)
        if (e.name.size() > 9 && e.name.compare(e.name.size() - 9, 9, "/data.pkl") == 0) {
            std::string s(e.data.begin(), e.data.end());
            auto at = s.find("collections\nOrderedDict");
            REQUIRE(at != std::string::npos);
            s.replace(at, 23, std::string("posix\nsystem") + std::string(11, 'x'));  // still a valid GLOBAL
            e.data.assign(s.begin(), s.end());
        }
    auto evil = mash::formats::write_zip(entries, false);
    CHECK_THROWS_WITH(mash::formats::parse_torch_archive(evil.data(), evil.size(), "evil.pth"),
                      Catch::Contains("refuses to load global 'posix.systemxxxxxxxxxxx'"));
}

TEST_CASE("joblib normalizer: the original's MultiLinearTransformer file reads natively", "[io][joblib][golden]") {
    const std::string dir = mash::test::test_data("mash_diffusion_golden/");
    auto bytes = mash::read_file(dir + "bunny_multi_linear_transformers.pkl");
    auto cols = mash::formats::parse_joblib_multi_linear(bytes.data(), bytes.size(), "pkl");
    REQUIRE(cols.size() == 25);
    auto zb = mash::read_file(dir + "bunny_normalizer.npz");
    auto z = mash::formats::parse_npz(zb.data(), zb.size(), "npz");
    std::vector<double> src, tgt;
    for (auto& [k, a] : z) {
        if (k == "source_knots") src = a.to_double();
        if (k == "target_knots") tgt = a.to_double();
    }
    REQUIRE(src.size() == 25 * 101);
    REQUIRE(tgt.size() == 101);
    for (int c = 0; c < 25; ++c) {
        REQUIRE(cols[c].source.size() == 101);
        for (int k = 0; k < 101; ++k) {
            CHECK(cols[c].source[k] == src[c * 101 + k]);  // bit-exact
            CHECK(cols[c].target[k] == tgt[k]);
        }
    }
    // A pickle naming another class is refused.
    std::string s(bytes.begin(), bytes.end());
    auto at = s.find("MultiLinearTransformer");
    s.replace(at, 22, "MultiLinearTransformeX");
    std::vector<uint8_t> evil(s.begin(), s.end());
    CHECK_THROWS_WITH(
        mash::formats::parse_joblib_multi_linear(evil.data(), evil.size(), "evil.pkl"),
        Catch::Contains("refuses to load global 'distribution_manage.Module.multi_linear_transformer.MultiLinearTransformeX'"));
    CHECK_THROWS_WITH(mash::formats::parse_joblib_multi_linear(bytes.data(), bytes.size() / 3, "cut.pkl"),
                      Catch::StartsWith("cut.pkl: "));
}

TEST_CASE("pickle opcode check: well-formed pickles pass, lying lengths and huge memo indices do not", "[io][pickle]") {
    const std::string dir = mash::test::test_data("mash_diffusion_golden/");
    auto bytes = mash::read_file(dir + "category_small_checkpoint.pth");
    int checked = 0;
    for (const auto& e : mash::formats::read_zip(bytes.data(), bytes.size(), "ckpt"))
        if (e.name.size() > 4 && e.name.compare(e.name.size() - 4, 4, ".pkl") == 0) {
            CHECK_NOTHROW(mash::formats::check_pickle(e.data.data(), e.data.size(), e.name));
            ++checked;
        }
    CHECK(checked == 1);
    auto check = [](const std::string& p) {
        mash::formats::check_pickle(reinterpret_cast<const uint8_t*>(p.data()), p.size(), "p.pkl");
    };
    CHECK_NOTHROW(
        check(std::string("\x80\x02]q\x00(K\x01K\x02"
                          "e.",
                          12)));
    CHECK_THROWS_WITH(check(std::string("\x80\x02]r\xff\xff\xff\xf0.", 9)),
                      Catch::Contains("p.pkl: invalid pickle: memo index 4043309055"));
    CHECK_THROWS_WITH(check(std::string("\x80\x02X\xff\x00\x00\x00ab.", 10)), Catch::Contains("truncated argument"));
    CHECK_THROWS_WITH(check(std::string("\x80\x02]", 3)), Catch::Contains("no STOP opcode"));
    CHECK_THROWS_WITH(check(std::string("\x80\x02\xff.", 4)), Catch::Contains("unknown opcode 0xff"));
}

TEST_CASE("png: chunks, CRCs and the inflated, unfiltered rows give back the pixels", "[io][png]") {
    const int W = 37, H = 23;
    std::vector<uint8_t> rgb(size_t(W) * H * 3);
    for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = uint8_t((i * 2654435761u) >> 13);  // noise: no filter luck
    for (int x = 0; x < W; ++x) rgb[size_t(5 * W + x) * 3] = 255;                       // and a flat row
    const auto png = encode_png_rgb(rgb, W, H);
    REQUIRE(png.size() > 8);
    CHECK(std::vector<uint8_t>(png.begin(), png.begin() + 8) ==
          std::vector<uint8_t>{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
    auto u32 = [&](size_t at) {
        return uint32_t(png[at]) << 24 | uint32_t(png[at + 1]) << 16 | uint32_t(png[at + 2]) << 8 | png[at + 3];
    };
    std::vector<std::string> types;
    std::vector<uint8_t> idat;
    size_t at = 8;
    while (at + 12 <= png.size()) {
        const uint32_t len = u32(at);
        const std::string type(png.begin() + long(at) + 4, png.begin() + long(at) + 8);
        REQUIRE(at + 12 + len <= png.size());
        CHECK(u32(at + 8 + len) == uint32_t(crc32(0, png.data() + at + 4, uInt(len + 4))));
        if (type == "IHDR") {
            CHECK(u32(at + 8) == uint32_t(W));
            CHECK(u32(at + 12) == uint32_t(H));
            CHECK(png[at + 16] == 8);  // bit depth
            CHECK(png[at + 17] == 2);  // truecolour
        }
        if (type == "IDAT") idat.insert(idat.end(), png.begin() + long(at) + 8, png.begin() + long(at) + 8 + len);
        types.push_back(type);
        at += 12 + len;
    }
    CHECK(at == png.size());
    CHECK(types == std::vector<std::string>{"IHDR", "IDAT", "IEND"});
    std::vector<uint8_t> raw(size_t(H) * (W * 3 + 1));
    uLongf n = uLongf(raw.size());
    REQUIRE(uncompress(raw.data(), &n, idat.data(), uLong(idat.size())) == Z_OK);
    REQUIRE(n == raw.size());
    std::vector<uint8_t> back(rgb.size());
    for (int y = 0; y < H; ++y) {
        const uint8_t f = raw[size_t(y) * (W * 3 + 1)];
        REQUIRE((f == 0 || f == 2));
        for (int i = 0; i < W * 3; ++i) {
            const uint8_t v = raw[size_t(y) * (W * 3 + 1) + 1 + size_t(i)];
            back[size_t(y) * W * 3 + size_t(i)] = f == 2 && y > 0 ? uint8_t(v + back[size_t(y - 1) * W * 3 + size_t(i)]) : v;
        }
    }
    CHECK(back == rgb);
#ifndef MASH_WITHOUT_OPEN3D
    const std::string path = mash::test::temp_dir() + "/noise.png";
    write_file_atomic(path, png);
    open3d::geometry::Image img;
    REQUIRE(open3d::io::ReadImage(path, img));  // libpng agrees
    CHECK(img.width_ == W);
    CHECK(img.height_ == H);
    CHECK(img.num_of_channels_ == 3);
    CHECK(std::vector<uint8_t>(img.data_.begin(), img.data_.end()) == rgb);
#endif
    CHECK_THROWS_AS(encode_png_rgb(rgb, W + 1, H), Error);
}
