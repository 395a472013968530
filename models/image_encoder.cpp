// SPDX-License-Identifier: MIT
#include "models/image_encoder.h"

#include <ATen/ATen.h>

#include <nlohmann/json.hpp>
#ifndef MASH_WITHOUT_OPEN3D
#include <open3d/io/ImageIO.h>
#endif
#include <ATen/Parallel.h>
#include <torch/script.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "mash/core/errors.h"
#include "mash/core/files.h"
#include "mash/core/hash.h"
#include "mash/formats/npy.h"

namespace fs = std::filesystem;

namespace mash::models {

std::string file_hash(const std::string& path) {
    const auto bytes = read_file(path);
    const uint64_t h = fnv1a(bytes.data(), bytes.size(), kCacheKeyBasis);
    char s[17];
    std::snprintf(s, sizeof s, "%016llx", static_cast<unsigned long long>(h));
    return s;
}

at::Tensor load_image_u8(const std::string& path) {
    if (!fs::is_regular_file(path)) throw IoError(path + ": image not found");
#ifdef MASH_WITHOUT_OPEN3D
    throw ConfigError(path +
                      ": cannot read images in this build (configured with MASH_WITH_OPEN3D=OFF; expected a build with "
                      "Open3D, or image features computed elsewhere)");
#else
    open3d::geometry::Image img;
    if (!open3d::io::ReadImage(path, img) || img.IsEmpty())
        throw IoError(path + ": cannot read the image (expected a PNG or JPG file)");
    if (img.bytes_per_channel_ != 1 && img.bytes_per_channel_ != 2)
        throw IoError(path + ": unsupported pixel format (expected 8- or 16-bit channels)");
    const int64_t H = img.height_, W = img.width_, C = img.num_of_channels_;
    if (C < 1 || C > 4) throw IoError(path + ": unsupported channel count " + std::to_string(C) + " (expected 1 to 4)");
    at::Tensor t;
    if (img.bytes_per_channel_ == 1)
        t = at::from_blob(img.data_.data(), {H, W, C}, at::kByte).clone();
    else  // 16-bit: the high byte
        t = at::from_blob(img.data_.data(), {H, W, C}, at::kShort)
                .to(at::kInt)
                .bitwise_and(0xFFFF)
                .div(256, "floor")
                .to(at::kByte);
    if (C == 1)
        t = t.expand({H, W, 3});
    else if (C == 2)
        t = at::cat({t.narrow(2, 0, 1).expand({H, W, 3}), t.narrow(2, 1, 1)}, 2);
    return t.contiguous();
#endif
}

at::Tensor image_rgb_u8(const at::Tensor& image, ImageAlpha alpha) {
    TORCH_CHECK(image.dim() == 3 && (image.size(2) == 3 || image.size(2) == 4) && image.scalar_type() == at::kByte,
                "image: expected uint8 [H, W, 3|4]");
    if (image.size(2) == 3) return image.contiguous();
    if (alpha == ImageAlpha::kDrop) return image.narrow(2, 0, 3).contiguous();
    const at::Tensor f = image.to(at::kFloat);
    const at::Tensor a = f.narrow(2, 3, 1) / 255.0;
    return (f.narrow(2, 0, 3) * a + 255.0 * (1 - a)).round().clamp(0, 255).to(at::kByte).contiguous();
}

namespace {

// Pillow's Resample.c for 8-bit images: bilinear filter, coefficients normalized per output pixel,
// then fixed point with 22 fractional bits; sums start at one half and are clipped to [0, 255].
constexpr int kPrecisionBits = 32 - 8 - 2;

struct ResampleCoeffs {
    int ksize = 0;
    std::vector<int> bounds;  // per output pixel: first input index, count
    std::vector<int32_t> k;   // [out, ksize]
};

ResampleCoeffs pil_bilinear_coeffs(int in_size, int out_size) {
    const double scale = static_cast<double>(static_cast<float>(in_size) - 0.0f) / out_size;
    const double filterscale = scale < 1.0 ? 1.0 : scale;
    const double support = 1.0 * filterscale;  // bilinear: support 1
    ResampleCoeffs c;
    c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
    c.bounds.resize(2 * static_cast<size_t>(out_size));
    std::vector<double> kk(static_cast<size_t>(out_size) * c.ksize, 0.0);
    for (int xx = 0; xx < out_size; ++xx) {
        const double center = (xx + 0.5) * scale, ss = 1.0 / filterscale;
        int xmin = static_cast<int>(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = static_cast<int>(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double* k = &kk[static_cast<size_t>(xx) * c.ksize];
        double ww = 0.0;
        for (int x = 0; x < xmax; ++x) {
            double d = (x + xmin - center + 0.5) * ss;
            if (d < 0.0) d = -d;
            const double w = d < 1.0 ? 1.0 - d : 0.0;
            k[x] = w;
            ww += w;
        }
        for (int x = 0; x < xmax; ++x)
            if (ww != 0.0) k[x] /= ww;
        c.bounds[2 * xx] = xmin;
        c.bounds[2 * xx + 1] = xmax;
    }
    c.k.resize(kk.size());
    for (size_t i = 0; i < kk.size(); ++i)
        c.k[i] = kk[i] < 0 ? static_cast<int32_t>(-0.5 + kk[i] * (1 << kPrecisionBits))
                           : static_cast<int32_t>(0.5 + kk[i] * (1 << kPrecisionBits));
    return c;
}

inline uint8_t clip8(int64_t v) {
    v >>= kPrecisionBits;  // arithmetic shift, as Pillow's lookup index
    return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

}  // namespace

at::Tensor resize_bilinear_pil(const at::Tensor& image, int64_t out_h, int64_t out_w) {
    TORCH_CHECK(image.dim() == 3 && image.scalar_type() == at::kByte, "resize: expected uint8 [H, W, C]");
    TORCH_CHECK(out_h > 0 && out_w > 0, "resize: output size must be positive");
    const at::Tensor in = image.contiguous();
    const int H = static_cast<int>(in.size(0)), W = static_cast<int>(in.size(1)), C = static_cast<int>(in.size(2));
    const int oh = static_cast<int>(out_h), ow = static_cast<int>(out_w);
    const bool need_h = ow != W, need_v = oh != H;
    if (!need_h && !need_v) return in.clone();
    const ResampleCoeffs ch = pil_bilinear_coeffs(W, ow);
    ResampleCoeffs cv = pil_bilinear_coeffs(H, oh);
    // Rows of the source the vertical pass reads.
    const int y_first = cv.bounds[0], y_last = cv.bounds[2 * oh - 2] + cv.bounds[2 * oh - 1];
    at::Tensor cur = in;
    if (need_h) {
        for (int i = 0; i < oh; ++i) cv.bounds[2 * i] -= y_first;
        const int rows = y_last - y_first;
        at::Tensor tmp = at::empty({rows, ow, C}, at::kByte);
        const uint8_t* src = in.data_ptr<uint8_t>();
        uint8_t* dst = tmp.data_ptr<uint8_t>();
        at::parallel_for(0, rows, 16, [&](int64_t r0, int64_t r1) {
            for (int64_t yy = r0; yy < r1; ++yy) {
                const uint8_t* row = src + (yy + y_first) * static_cast<int64_t>(W) * C;
                for (int xx = 0; xx < ow; ++xx) {
                    const int xmin = ch.bounds[2 * xx], xmax = ch.bounds[2 * xx + 1];
                    const int32_t* k = &ch.k[static_cast<size_t>(xx) * ch.ksize];
                    for (int c = 0; c < C; ++c) {
                        int64_t ss = int64_t(1) << (kPrecisionBits - 1);
                        for (int x = 0; x < xmax; ++x) ss += int64_t(row[(x + xmin) * C + c]) * k[x];
                        dst[(yy * ow + xx) * C + c] = clip8(ss);
                    }
                }
            }
        });
        cur = tmp;
    }
    if (!need_v) return cur;
    const int cw = static_cast<int>(cur.size(1));
    at::Tensor out = at::empty({oh, cw, C}, at::kByte);
    const uint8_t* src = cur.data_ptr<uint8_t>();
    uint8_t* dst = out.data_ptr<uint8_t>();
    at::parallel_for(0, oh, 16, [&](int64_t r0, int64_t r1) {
        for (int64_t yy = r0; yy < r1; ++yy) {
            const int ymin = cv.bounds[2 * yy], ymax = cv.bounds[2 * yy + 1];
            const int32_t* k = &cv.k[static_cast<size_t>(yy) * cv.ksize];
            for (int xx = 0; xx < cw; ++xx)
                for (int c = 0; c < C; ++c) {
                    int64_t ss = int64_t(1) << (kPrecisionBits - 1);
                    for (int y = 0; y < ymax; ++y)
                        ss += int64_t(src[((y + ymin) * static_cast<int64_t>(cw) + xx) * C + c]) * k[y];
                    dst[(yy * cw + xx) * C + c] = clip8(ss);
                }
        }
    });
    return out;
}

at::Tensor preprocess_image(const at::Tensor& image, const EncoderInfo& info, ImageAlpha alpha) {
    const int64_t S = info.input_size;
    const at::Tensor rgb = resize_bilinear_pil(image_rgb_u8(image, alpha), S, S);
    const at::Tensor chw = rgb.permute({2, 0, 1}).to(at::kFloat).div(255).unsqueeze(0);
    at::Tensor mean = at::tensor(std::vector<double>(info.mean.begin(), info.mean.end()), at::kFloat).reshape({1, 3, 1, 1});
    at::Tensor sd = at::tensor(std::vector<double>(info.std.begin(), info.std.end()), at::kFloat).reshape({1, 3, 1, 1});
    return ((chw - mean) / sd)[0].contiguous();
}

struct ImageEncoder::Impl {
    torch::jit::script::Module module;
};

EncoderInfo read_encoder_sidecar(const std::string& path) {
    const std::string side = path + ".json";
    if (!fs::is_regular_file(side))
        throw IoError(side + ": sidecar not found (expected the JSON written next to the encoder by scripts/export_dinov2.py)");
    EncoderInfo info;
    try {
        auto bytes = read_file(side);
        auto j = nlohmann::json::parse(std::string(bytes.begin(), bytes.end()));
        info.name = j.value("name", "encoder");
        info.input_size = j.at("input_size").get<int64_t>();
        info.tokens = j.at("tokens").get<int64_t>();
        info.width = j.at("width").get<int64_t>();
        auto m = j.at("mean").get<std::vector<double>>(), s = j.at("std").get<std::vector<double>>();
        if (m.size() != 3 || s.size() != 3) throw std::runtime_error("mean/std must have 3 values");
        for (int i = 0; i < 3; ++i) {
            info.mean[i] = m[i];
            info.std[i] = s[i];
            if (!(s[i] > 0)) throw std::runtime_error("std must be > 0");
        }
        if (info.input_size < 1 || info.tokens < 1 || info.width < 1) throw std::runtime_error("sizes must be positive");
    } catch (const mash::Error&) {
        throw;
    } catch (const std::exception& e) {
        throw IoError(side + ": invalid encoder sidecar: " + e.what() +
                      " (expected {\"input_size\", \"mean\", \"std\", \"tokens\", \"width\"})");
    }
    return info;
}

namespace {
at::ScalarType scalar_type(EncoderDtype d) {
    switch (d) {
        case EncoderDtype::kBFloat16:
            return at::kBFloat16;
        case EncoderDtype::kFloat16:
            return at::kHalf;
        case EncoderDtype::kFloat32:
            break;
    }
    return at::kFloat;
}
}  // namespace

std::string ImageEncoder::preprocessing() const { return "pil-" + config::name(alpha_) + "-" + config::name(dtype_); }

ImageEncoder::ImageEncoder(const std::string& path, EncoderDtype dtype, ImageAlpha alpha)
    : impl_(std::make_unique<Impl>()), path_(path), dtype_(dtype), alpha_(alpha) {
    if (!fs::is_regular_file(path)) throw IoError(path + ": image encoder not found (export one with scripts/export_dinov2.py)");
    info_ = read_encoder_sidecar(path);
    try {
        impl_->module = torch::jit::load(path);
    } catch (const std::exception& e) {
        std::string w = e.what();
        throw IoError(path + ": not a loadable TorchScript file: " + w.substr(0, w.find('\n')));
    }
    impl_->module.eval();
    if (dtype_ != EncoderDtype::kFloat32) impl_->module.to(scalar_type(dtype_));
    at::Tensor probe = at::zeros({1, 3, info_.input_size, info_.input_size});
    at::Tensor out = encode(probe);
    if (out.dim() != 3 || out.size(1) != info_.tokens || out.size(2) != info_.width)
        throw InputError(path + ": the encoder returned " + std::string(c10::str(out.sizes())) +
                         " for one image; its sidecar says [1, " + std::to_string(info_.tokens) + ", " +
                         std::to_string(info_.width) + "]");
    hash_ = file_hash(path);
}

ImageEncoder::~ImageEncoder() = default;

at::Tensor ImageEncoder::encode(const at::Tensor& images, int64_t batch) {
    torch::NoGradGuard ng;
    std::vector<at::Tensor> outs;
    for (int64_t b = 0; b < images.size(0); b += batch) {
        at::Tensor x = images.narrow(0, b, std::min(batch, images.size(0) - b)).to(scalar_type(dtype_)).contiguous();
        at::Tensor y;
        try {
            y = impl_->module.forward({x}).toTensor();
        } catch (const std::exception& e) {
            std::string w = e.what();
            throw InputError(path_ + ": the encoder failed on input " + std::string(c10::str(x.sizes())) + ": " +
                             w.substr(0, w.find('\n')));
        }
        if (y.dim() != 3 || y.size(0) != x.size(0))
            throw InputError(path_ + ": the encoder must return tokens [B, T, C], got " + std::string(c10::str(y.sizes())));
        outs.push_back(y.to(at::kFloat));
    }
    return at::cat(outs);
}

at::Tensor ImageEncoder::encode_files(const std::vector<std::string>& files, const std::string& cache_dir, int64_t* hits) {
    std::vector<at::Tensor> tokens(files.size());
    std::vector<size_t> todo;
    std::vector<std::string> cache_paths(files.size());
    int64_t h = 0;
    for (size_t i = 0; i < files.size(); ++i) {
        if (cache_dir.empty()) {
            todo.push_back(i);
            continue;
        }
        cache_paths[i] = (fs::path(cache_dir) / (hash_ + "-" + preprocessing()) / (file_hash(files[i]) + ".npy")).string();
        if (fs::is_regular_file(cache_paths[i])) {
            try {
                auto bytes = read_file(cache_paths[i]);
                auto a = formats::parse_npy(bytes.data(), bytes.size(), cache_paths[i]);
                if (a.shape == std::vector<int64_t>{info_.tokens, info_.width}) {
                    auto d = a.to_double();
                    tokens[i] = at::tensor(d, at::kDouble).reshape({info_.tokens, info_.width}).to(at::kFloat);
                    ++h;
                    continue;
                }
            } catch (const mash::Error&) {  // a damaged cache entry is recomputed
            }
        }
        todo.push_back(i);
    }
    if (!todo.empty()) {
        std::vector<at::Tensor> imgs;
        for (auto i : todo) imgs.push_back(preprocess_image(load_image_u8(files[i]), info_, alpha_));
        at::Tensor out = encode(at::stack(imgs));
        for (size_t k = 0; k < todo.size(); ++k) {
            const size_t i = todo[k];
            tokens[i] = out[static_cast<int64_t>(k)].contiguous();
            if (!cache_dir.empty()) {
                fs::create_directories(fs::path(cache_paths[i]).parent_path());
                std::vector<float> v(tokens[i].data_ptr<float>(), tokens[i].data_ptr<float>() + tokens[i].numel());
                write_file_atomic(cache_paths[i],
                                  formats::serialize_npy(formats::NpyArray::from_float(v, {info_.tokens, info_.width})));
            }
        }
    }
    if (hits) *hits = h;
    return at::stack(tokens);
}

}  // namespace mash::models
