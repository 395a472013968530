// SPDX-License-Identifier: MIT
// The 3DShape2VecSet-style latent-array transformer of generation-spec §2, with parameter names
// of the original (category_emb.weight, model.proj_in.weight, model.transformer_blocks.<i>.attn1.
// to_q.weight, …, model.proj_out.weight), so released weights can be mapped by name.
//
//   x [B, A, C] → proj_in (no bias) → depth × { x += SelfAttn(AdaLN₁(x,t)); x += CrossAttn(AdaLN₂(x,t), ctx);
//   x += GEGLU-FF(AdaLN₃(x,t)) } → LayerNorm (affine) → proj_out (no bias, zero-initialized).
//   t_emb = SiLU(Linear(SiLU(Linear([cos(t·f), sin(t·f)])))), f_k = 10000^(−k/(T/2)).
// No positional encoding (the paper's): the network is permutation-equivariant over anchors. With
// slots > 0 (model.anchor_order: canonical) a learned embedding per anchor slot is added after proj_in.
//
// Conditioning (ConditionKind): kNone → one all-zero context token; kCategory → a learned
// embedding [num_categories, context_dim] as one context token; kImage → encoder tokens
// [B, T, image_dim] (projected to context_dim by a bias-free linear, or with image_projection =
// false used as they are, as the released DINOv2 model does). Condition dropout (training only): every context scalar is zeroed
// independently with probability cond_dropout (spec §4.1; no classifier-free guidance).
#pragma once
#include <torch/nn.h>

#include <string>

#include "models/train_config.h"

namespace mash::models {

struct DenoiserOptions {
    int64_t channels = 25;  ///< token width (9 + mask + SH)
    int64_t width = 512;    ///< D = heads × head_dim
    int64_t depth = 24;
    int64_t heads = 8;
    int64_t time_channels = 256;
    int64_t context_dim = 512;  ///< cross-attention K/V input width
    ConditionKind condition = ConditionKind::kCategory;
    int64_t num_categories = 55;
    int64_t image_dim = 768;       ///< encoder token width (kImage)
    bool image_projection = true;  ///< kImage: bias-free Linear(image_dim → context_dim); false: tokens used as they are
    double cond_dropout = 0.1;
    int64_t slots = 0;  ///< > 0: anchors come in a canonical order and slot k gets a learned embedding
                        ///< (model.slot_emb [slots, width], added after proj_in); 0: permutation-equivariant
};

struct AdaLayerNormImpl : torch::nn::Module {
    explicit AdaLayerNormImpl(int64_t width);
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& temb);
    torch::nn::Linear linear{nullptr};
};
TORCH_MODULE(AdaLayerNorm);

/// Attention through at::scaled_dot_product_attention (fused kernels: flash / memory-efficient on
/// CUDA, the flash CPU kernel) when true (default), through softmax(QKᵀ/√d)V when false. The two
/// agree to float rounding (tests/test_models.cpp); the switch exists for that test and benchmarks.
void set_fused_attention(bool on);
bool fused_attention();

struct AttentionImpl : torch::nn::Module {
    AttentionImpl(int64_t query_dim, int64_t context_dim, int64_t heads, int64_t head_dim);
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context);
    int64_t heads, head_dim;
    torch::nn::Linear to_q{nullptr}, to_k{nullptr}, to_v{nullptr};
    torch::nn::Sequential to_out{nullptr};
};
TORCH_MODULE(Attention);

struct GegluImpl : torch::nn::Module {
    GegluImpl(int64_t in, int64_t out);
    torch::Tensor forward(const torch::Tensor& x);
    torch::nn::Linear proj{nullptr};
};
TORCH_MODULE(Geglu);

/// FF = net.0 (GEGLU: Linear D→8D, value·GELU(gate)) → net.1 Dropout(0) → net.2 Linear 4D→D.
struct FeedForwardImpl : torch::nn::Module {
    explicit FeedForwardImpl(int64_t width);
    torch::Tensor forward(const torch::Tensor& x) { return net->forward(x); }
    torch::nn::Sequential net{nullptr};
};
TORCH_MODULE(FeedForward);

struct BlockImpl : torch::nn::Module {
    BlockImpl(int64_t width, int64_t context_dim, int64_t heads);
    torch::Tensor forward(torch::Tensor x, const torch::Tensor& temb, const torch::Tensor& context);
    Attention attn1{nullptr}, attn2{nullptr};
    FeedForward ff{nullptr};
    AdaLayerNorm norm1{nullptr}, norm2{nullptr}, norm3{nullptr};
};
TORCH_MODULE(Block);

struct LatentArrayTransformerImpl : torch::nn::Module {
    explicit LatentArrayTransformerImpl(const DenoiserOptions& o);
    /// x [B,A,C], t [B] (raw), context [B,L,context_dim] → [B,A,C]. With slot embeddings, row a of
    /// sample b takes slot slot_order[b][a] (int64 [B, A]; undefined: slot a), so that rows can be
    /// reordered (completion puts the frozen anchors' slots first).
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& context,
                          const torch::Tensor& slot_order = {});
    int64_t time_channels;
    torch::nn::Linear proj_in{nullptr}, map_layer0{nullptr}, map_layer1{nullptr}, proj_out{nullptr};
    torch::nn::ModuleList transformer_blocks{nullptr};
    torch::nn::LayerNorm norm{nullptr};
    torch::Tensor slot_emb;  ///< [slots, width] or undefined
};
TORCH_MODULE(LatentArrayTransformer);

/// A batch's condition: category ids [B] (int64) or image tokens [B, T, image_dim]; or nothing.
struct ConditionBatch {
    torch::Tensor category;
    torch::Tensor image;
};

struct DenoiserImpl : torch::nn::Module {
    explicit DenoiserImpl(const DenoiserOptions& o);
    /// Context tokens [B, L, context_dim] for a batch of B. `dropout_uniform` (same shape as the
    /// context, values in [0,1)) zeroes entries ≤ cond_dropout; pass an undefined tensor to skip.
    torch::Tensor context(const ConditionBatch& c, int64_t batch, const torch::Tensor& dropout_uniform = {});
    /// Shape of the context for a batch of B (for drawing the dropout uniforms up front).
    std::vector<int64_t> context_shape(const ConditionBatch& c, int64_t batch) const;
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& context,
                          const torch::Tensor& slot_order = {});
    DenoiserOptions options;
    torch::nn::Embedding category_emb{nullptr};
    torch::nn::Linear image_proj{nullptr};
    LatentArrayTransformer model{nullptr};
};
TORCH_MODULE(Denoiser);

/// Parameter count (for logs and the README table).
int64_t count_parameters(const torch::nn::Module& m);

}  // namespace mash::models
