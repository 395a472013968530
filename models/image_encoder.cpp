// SPDX-License-Identifier: MIT
#include "models/image_encoder.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#ifndef MASH_WITHOUT_OPEN3D
#include <open3d/io/ImageIO.h>
#endif
#include <torch/script.h>

#include <cstdio>
#include <filesystem>

#include "mash/core/errors.h"
#include "mash/core/files.h"
#include "mash/formats/npy.h"

namespace fs = std::filesystem;

namespace mash::models {

std::string file_hash(const std::string& path) {
    auto bytes = io::read_file(path);
    uint64_t h = 1469598103934665603ull;
    for (uint8_t b : bytes) {
        h ^= b;
        h *= 1099511628211ull;
    }
    char s[17];
    std::snprintf(s, sizeof s, "%016llx", static_cast<unsigned long long>(h));
    return s;
}

at::Tensor load_image_rgb(const std::string& path) {
    if (!fs::is_regular_file(path)) throw IoError(path + ": image not found");
#ifdef MASH_WITHOUT_OPEN3D
    throw ConfigError(path + ": cannot read images in this build (configured with MASH_WITH_OPEN3D=OFF; expected a build with "
                      "Open3D, or image features computed elsewhere)");
#else
    open3d::geometry::Image img;
    if (!open3d::io::ReadImage(path, img) || img.IsEmpty())
        throw IoError(path + ": cannot read the image (expected a PNG or JPG file)");
    if (img.bytes_per_channel_ != 1 && img.bytes_per_channel_ != 2)
        throw IoError(path + ": unsupported pixel format (expected 8- or 16-bit channels)");
    const int64_t H = img.height_, W = img.width_, C = img.num_of_channels_;
    at::Tensor t;
    if (img.bytes_per_channel_ == 1) {
        t = at::from_blob(img.data_.data(), {H, W, C}, at::kByte).to(at::kFloat) / 255.0;
    } else {
        t = at::from_blob(img.data_.data(), {H, W, C}, at::kShort).to(at::kInt).bitwise_and(0xFFFF).to(at::kFloat) / 65535.0;
    }
    if (C == 1) t = t.expand({H, W, 3});
    else if (C == 2) t = at::cat({t.narrow(2, 0, 1).expand({H, W, 3}), t.narrow(2, 1, 1)}, 2);
    else if (C != 3 && C != 4) throw IoError(path + ": unsupported channel count " + std::to_string(C));
    if (t.size(2) == 4) {
        at::Tensor a = t.narrow(2, 3, 1);
        t = t.narrow(2, 0, 3) * a + (1 - a);
    }
    return t.contiguous();
#endif
}

at::Tensor preprocess_image(const at::Tensor& image, const EncoderInfo& info) {
    TORCH_CHECK(image.dim() == 3 && (image.size(2) == 3 || image.size(2) == 4), "image: expected [H, W, 3|4]");
    at::Tensor t = image.to(at::kFloat);
    if (t.size(2) == 4) {
        at::Tensor a = t.narrow(2, 3, 1);
        t = t.narrow(2, 0, 3) * a + (1 - a);
    }
    at::Tensor chw = t.permute({2, 0, 1}).unsqueeze(0).contiguous();
    const int64_t S = info.input_size;
    if (chw.size(2) != S || chw.size(3) != S)
        chw = at::upsample_bilinear2d(chw, {S, S}, /*align_corners=*/false);
    at::Tensor mean = at::tensor(std::vector<double>(info.mean.begin(), info.mean.end()), at::kFloat).reshape({1, 3, 1, 1});
    at::Tensor sd = at::tensor(std::vector<double>(info.std.begin(), info.std.end()), at::kFloat).reshape({1, 3, 1, 1});
    return ((chw - mean) / sd)[0];
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
        auto bytes = io::read_file(side);
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

ImageEncoder::ImageEncoder(const std::string& path) : impl_(std::make_unique<Impl>()), path_(path) {
    if (!fs::is_regular_file(path)) throw IoError(path + ": image encoder not found (export one with scripts/export_dinov2.py)");
    info_ = read_encoder_sidecar(path);
    try {
        impl_->module = torch::jit::load(path);
    } catch (const std::exception& e) {
        std::string w = e.what();
        throw IoError(path + ": not a loadable TorchScript file: " + w.substr(0, w.find('\n')));
    }
    impl_->module.eval();
    at::Tensor probe = at::zeros({1, 3, info_.input_size, info_.input_size});
    at::Tensor out = encode(probe);
    if (out.dim() != 3 || out.size(1) != info_.tokens || out.size(2) != info_.width)
        throw InputError(path + ": the encoder returned " + std::string(c10::str(out.sizes())) + " for one image; its sidecar says [1, " +
                         std::to_string(info_.tokens) + ", " + std::to_string(info_.width) + "]");
    hash_ = file_hash(path);
}

ImageEncoder::~ImageEncoder() = default;

at::Tensor ImageEncoder::encode(const at::Tensor& images, int64_t batch) {
    torch::NoGradGuard ng;
    std::vector<at::Tensor> outs;
    for (int64_t b = 0; b < images.size(0); b += batch) {
        at::Tensor x = images.narrow(0, b, std::min(batch, images.size(0) - b)).to(at::kFloat).contiguous();
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
        cache_paths[i] = (fs::path(cache_dir) / hash_ / (file_hash(files[i]) + ".npy")).string();
        if (fs::is_regular_file(cache_paths[i])) {
            try {
                auto bytes = io::read_file(cache_paths[i]);
                auto a = io::parse_npy(bytes.data(), bytes.size(), cache_paths[i]);
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
        for (auto i : todo) imgs.push_back(preprocess_image(load_image_rgb(files[i]), info_));
        at::Tensor out = encode(at::stack(imgs));
        for (size_t k = 0; k < todo.size(); ++k) {
            const size_t i = todo[k];
            tokens[i] = out[static_cast<int64_t>(k)].contiguous();
            if (!cache_dir.empty()) {
                fs::create_directories(fs::path(cache_paths[i]).parent_path());
                std::vector<float> v(tokens[i].data_ptr<float>(), tokens[i].data_ptr<float>() + tokens[i].numel());
                io::write_file_atomic(cache_paths[i], io::serialize_npy(io::NpyArray::from_float(v, {info_.tokens, info_.width})));
            }
        }
    }
    if (hits) *hits = h;
    return at::stack(tokens);
}

}  // namespace mash::models
