// SPDX-License-Identifier: MIT
// Image conditioning (#7): any TorchScript image encoder with DINOv2's interface
//   forward(float32 [B, 3, S, S] ImageNet-normalized RGB) → float32 [B, T, C] tokens
// plus a JSON sidecar `<encoder>.json` {"input_size": S, "mean": [3], "std": [3], "tokens": T,
// "width": C, ...} as written by scripts/export_dinov2.py (real DINOv2 ViT-B/14: S 518, T 1374,
// C 768; the stand-in in tests/data: S 112, T 69, C 32).
// Preprocessing (as the original, generation-spec §2.3): RGB, alpha composited onto white,
// bilinear resize to S×S (no crop, aspect not kept), /255, (x − mean)/std.
// Feature cache: CACHE/<encoder hash>/<image hash>.npy (float32 [T, C]); hashes are FNV-1a 64 of
// the file bytes, so an edited image or another encoder never hits a stale entry.
#pragma once
#include <ATen/core/Tensor.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

namespace mash::models {

struct EncoderInfo {
    std::string name;
    int64_t input_size = 0, tokens = 0, width = 0;
    std::array<double, 3> mean{}, std{};
};

/// Image file (PNG/JPG/…, via Open3D; builds without Open3D throw ConfigError) → float32 [H, W, 3] in [0, 1], alpha composited onto white.
/// Throws IoError naming the file.
at::Tensor load_image_rgb(const std::string& path);
/// [H, W, 3] or [H, W, 4] (RGBA, alpha composited onto white) in [0, 1] → [3, S, S] normalized.
at::Tensor preprocess_image(const at::Tensor& image, const EncoderInfo& info);

/// Reads and checks `<encoder>.json` only (no model loading): what a config needs to know, e.g.
/// the token width. Throws IoError naming the sidecar.
EncoderInfo read_encoder_sidecar(const std::string& encoder_path);

class ImageEncoder {
public:
    /// Loads `path` and its sidecar, runs one blank image and checks the output against the
    /// sidecar. Throws IoError / InputError naming the file and what was expected.
    explicit ImageEncoder(const std::string& path);
    ~ImageEncoder();
    const EncoderInfo& info() const { return info_; }
    const std::string& path() const { return path_; }
    const std::string& hash() const { return hash_; }
    /// Preprocessed images [B, 3, S, S] → tokens [B, T, C] (no grad, batches of `batch`).
    at::Tensor encode(const at::Tensor& images, int64_t batch = 8);
    /// Image files → tokens [B, T, C], through the cache when cache_dir is not empty.
    at::Tensor encode_files(const std::vector<std::string>& files, const std::string& cache_dir,
                            int64_t* cache_hits = nullptr);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    EncoderInfo info_;
    std::string path_, hash_;
};

/// FNV-1a 64 of a file's bytes, as 16 hex digits.
std::string file_hash(const std::string& path);

}  // namespace mash::models
