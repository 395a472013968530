// SPDX-License-Identifier: MIT
// Image conditioning: any TorchScript image encoder with DINOv2's interface
//   forward(float32 [B, 3, S, S] ImageNet-normalized RGB) → float32 [B, T, C] tokens
// plus a JSON sidecar `<encoder>.json` {"input_size": S, "mean": [3], "std": [3], "tokens": T,
// "width": C, ...} as written by scripts/export_dinov2.py (real DINOv2 ViT-B/14: S 518, T 1374,
// C 768; the stand-in in tests/data: S 112, T 69, C 32).
// Preprocessing (as the original, generation-spec §2.3): the image as 8-bit RGB (alpha dropped
// like PIL's convert('RGB'), or composited onto white), resized to S×S by PIL's bilinear filter
// on uint8 (antialiased when shrinking, Pillow's two fixed-point passes; no crop, aspect not kept),
// /255, (x − mean)/std. The encoder runs in float32, bfloat16 (the original's DINOv2) or float16.
// Feature cache: CACHE/<encoder hash>-<preprocessing>/<image hash>.npy (float32 [T, C]); hashes
// are FNV-1a 64 of the file bytes, so an edited image, another encoder or other preprocessing
// never hits a stale entry.
#pragma once
#include <ATen/core/Tensor.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "models/train_config.h"

namespace mash::models {

struct EncoderInfo {
    std::string name;
    int64_t input_size = 0, tokens = 0, width = 0;
    std::array<double, 3> mean{}, std{};
};

/// Image file (PNG/JPG/…, via Open3D; builds without Open3D throw ConfigError) → uint8 [H, W, 3]
/// or [H, W, 4] (RGBA) as decoded; gray is expanded to RGB, 16-bit channels keep their high byte.
/// Throws IoError naming the file.
at::Tensor load_image_u8(const std::string& path);
/// uint8 [H, W, 3|4] → uint8 [H, W, 3]: alpha dropped, or composited onto white (rounded).
at::Tensor image_rgb_u8(const at::Tensor& image, ImageAlpha alpha);
/// PIL's `Image.resize((out_w, out_h), Image.BILINEAR)` on uint8 [H, W, C] → [out_h, out_w, C],
/// bit for bit: Pillow's coefficients (support scaled by the shrink factor), 22-bit fixed point,
/// horizontal pass then vertical, each rounded and clipped to 8 bits.
at::Tensor resize_bilinear_pil(const at::Tensor& image, int64_t out_h, int64_t out_w);
/// uint8 [H, W, 3|4] → float32 [3, S, S]: RGB, PIL bilinear resize, /255, (x − mean)/std.
at::Tensor preprocess_image(const at::Tensor& image, const EncoderInfo& info, ImageAlpha alpha = ImageAlpha::kDrop);

/// Reads and checks `<encoder>.json` only (no model loading): what a config needs to know, e.g.
/// the token width. Throws IoError naming the sidecar.
EncoderInfo read_encoder_sidecar(const std::string& encoder_path);

class ImageEncoder {
public:
    /// Loads `path` and its sidecar, runs one blank image and checks the output against the
    /// sidecar. Throws IoError / InputError naming the file and what was expected.
    /// `dtype`: what the encoder runs in; `alpha`: how views with transparency become RGB.
    explicit ImageEncoder(const std::string& path, EncoderDtype dtype = EncoderDtype::kFloat32,
                          ImageAlpha alpha = ImageAlpha::kDrop);
    ~ImageEncoder();
    const EncoderInfo& info() const { return info_; }
    const std::string& path() const { return path_; }
    const std::string& hash() const { return hash_; }
    /// "pil-<alpha>-<dtype>": what the tokens depend on besides the encoder and the image (cache keys).
    std::string preprocessing() const;
    /// Preprocessed images [B, 3, S, S] → tokens [B, T, C] (no grad, batches of `batch`).
    at::Tensor encode(const at::Tensor& images, int64_t batch = 8);
    /// Image files → tokens [B, T, C], through the cache when cache_dir is not empty.
    at::Tensor encode_files(const std::vector<std::string>& files, const std::string& cache_dir, int64_t* cache_hits = nullptr);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    EncoderInfo info_;
    std::string path_, hash_;
    EncoderDtype dtype_;
    ImageAlpha alpha_;
};

/// The starting value of the feature-cache keys' FNV-1a (file_hash, feature_store.h's files_key):
/// 1469598103934665603, a digit short of FNV's offset basis; kept so that existing caches stay valid.
inline constexpr uint64_t kCacheKeyBasis = 1469598103934665603ull;
/// FNV-1a 64 of a file's bytes (from kCacheKeyBasis), as 16 hex digits.
std::string file_hash(const std::string& path);

}  // namespace mash::models
