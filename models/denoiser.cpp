// SPDX-License-Identifier: MIT
#include "models/denoiser.h"

#include <atomic>
#include <cmath>

#include "mash/core/errors.h"

namespace mash::models {

namespace F = torch::nn::functional;

AdaLayerNormImpl::AdaLayerNormImpl(int64_t width) { linear = register_module("linear", torch::nn::Linear(width, 2 * width)); }

torch::Tensor AdaLayerNormImpl::forward(const torch::Tensor& x, const torch::Tensor& temb) {
    auto ss = linear->forward(temb).chunk(2, -1);  // scale first, then shift
    auto xn = at::layer_norm(x, {x.size(-1)}, {}, {}, 1e-5);
    return xn * (1 + ss[0]) + ss[1];
}

namespace {
std::atomic<bool> g_fused_attention{true};
}
void set_fused_attention(bool on) { g_fused_attention = on; }
bool fused_attention() { return g_fused_attention; }

AttentionImpl::AttentionImpl(int64_t query_dim, int64_t context_dim, int64_t h, int64_t dh) : heads(h), head_dim(dh) {
    const int64_t inner = h * dh;
    to_q = register_module("to_q", torch::nn::Linear(torch::nn::LinearOptions(query_dim, inner).bias(false)));
    to_k = register_module("to_k", torch::nn::Linear(torch::nn::LinearOptions(context_dim, inner).bias(false)));
    to_v = register_module("to_v", torch::nn::Linear(torch::nn::LinearOptions(context_dim, inner).bias(false)));
    to_out = register_module("to_out", torch::nn::Sequential(torch::nn::Linear(inner, query_dim)));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& ctx) {
    const int64_t B = x.size(0), N = x.size(1), L = ctx.size(1);
    auto split = [&](const torch::Tensor& t, int64_t n) { return t.view({B, n, heads, head_dim}).transpose(1, 2); };
    auto q = split(to_q->forward(x), N), k = split(to_k->forward(ctx), L), v = split(to_v->forward(ctx), L);
    const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
    at::Tensor o;
    if (g_fused_attention) {
        o = at::scaled_dot_product_attention(q, k, v, {}, 0.0, false, scale);
    } else {
        auto w = at::softmax(at::matmul(q, k.transpose(-1, -2)) * scale, -1);
        o = at::matmul(w, v);
    }
    o = o.transpose(1, 2).reshape({B, N, heads * head_dim});
    return to_out->forward(o);
}

GegluImpl::GegluImpl(int64_t in, int64_t out) { proj = register_module("proj", torch::nn::Linear(in, 2 * out)); }

torch::Tensor GegluImpl::forward(const torch::Tensor& x) {
    auto vg = proj->forward(x).chunk(2, -1);  // value first, gate second
    return vg[0] * at::gelu(vg[1]);           // exact erf GELU
}

FeedForwardImpl::FeedForwardImpl(int64_t width) {
    net = register_module(
        "net", torch::nn::Sequential(Geglu(width, 4 * width), torch::nn::Dropout(0.0), torch::nn::Linear(4 * width, width)));
}

BlockImpl::BlockImpl(int64_t width, int64_t context_dim, int64_t heads) {
    const int64_t dh = width / heads;
    attn1 = register_module("attn1", Attention(width, width, heads, dh));
    attn2 = register_module("attn2", Attention(width, context_dim, heads, dh));
    ff = register_module("ff", FeedForward(width));
    norm1 = register_module("norm1", AdaLayerNorm(width));
    norm2 = register_module("norm2", AdaLayerNorm(width));
    norm3 = register_module("norm3", AdaLayerNorm(width));
}

torch::Tensor BlockImpl::forward(torch::Tensor x, const torch::Tensor& temb, const torch::Tensor& context) {
    auto h = norm1->forward(x, temb);
    x = x + attn1->forward(h, h);
    x = x + attn2->forward(norm2->forward(x, temb), context);
    x = x + ff->forward(norm3->forward(x, temb));
    return x;
}

LatentArrayTransformerImpl::LatentArrayTransformerImpl(const DenoiserOptions& o) : time_channels(o.time_channels) {
    if (o.width % o.heads != 0 || o.time_channels % 2 != 0 || o.depth < 1)
        throw ConfigError("model: width must be a multiple of heads, time_channels even and depth >= 1");
    proj_in = register_module("proj_in", torch::nn::Linear(torch::nn::LinearOptions(o.channels, o.width).bias(false)));
    map_layer0 = register_module("map_layer0", torch::nn::Linear(o.time_channels, o.width));
    map_layer1 = register_module("map_layer1", torch::nn::Linear(o.width, o.width));
    transformer_blocks = register_module("transformer_blocks", torch::nn::ModuleList());
    for (int64_t i = 0; i < o.depth; ++i) transformer_blocks->push_back(Block(o.width, o.context_dim, o.heads));
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.width})));
    proj_out = register_module("proj_out", torch::nn::Linear(torch::nn::LinearOptions(o.width, o.channels).bias(false)));
    if (o.slots > 0) slot_emb = register_parameter("slot_emb", torch::randn({o.slots, o.width}) * 0.5);
    torch::NoGradGuard g;
    proj_out->weight.zero_();
}

torch::Tensor LatentArrayTransformerImpl::forward(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& context,
                                                  const torch::Tensor& slot_order) {
    const int64_t half = time_channels / 2;
    auto k = torch::arange(half, x.options());
    auto freqs = torch::pow(1.0 / 10000.0, k / static_cast<double>(half));
    auto arg = t.to(x.scalar_type()).reshape({-1, 1}) * freqs.unsqueeze(0);
    auto temb = torch::cat({torch::cos(arg), torch::sin(arg)}, -1);
    temb = F::silu(map_layer1->forward(F::silu(map_layer0->forward(temb)))).unsqueeze(1);
    auto h = proj_in->forward(x);
    if (slot_emb.defined()) {
        TORCH_CHECK(x.size(1) == slot_emb.size(0), "model with ", slot_emb.size(0), " anchor slots got ", x.size(1), " anchors");
        if (slot_order.defined())
            h = h + slot_emb.index_select(0, slot_order.reshape({-1}).to(h.device()))
                        .reshape({x.size(0), x.size(1), -1})
                        .to(h.scalar_type());
        else
            h = h + slot_emb.to(h.scalar_type());
    }
    for (const auto& blk : *transformer_blocks) h = blk->as<Block>()->forward(h, temb, context);
    return proj_out->forward(norm->forward(h));
}

DenoiserImpl::DenoiserImpl(const DenoiserOptions& o) : options(o) {
    if (o.condition == ConditionKind::kCategory) {
        if (o.num_categories < 1) throw ConfigError("model: category conditioning needs at least one category");
        category_emb = register_module("category_emb", torch::nn::Embedding(o.num_categories, o.context_dim));
        torch::NoGradGuard g;
        category_emb->weight.normal_(0.0, 1.0);
    }
    if (o.condition == ConditionKind::kImage && !o.image_projection && o.image_dim != o.context_dim)
        throw ConfigError("model.image_projection: none needs the encoder width (" + std::to_string(o.image_dim) +
                          ") to equal model.context_dim (" + std::to_string(o.context_dim) + ")");
    if (o.condition == ConditionKind::kImage && o.image_projection)
        image_proj =
            register_module("image_proj", torch::nn::Linear(torch::nn::LinearOptions(o.image_dim, o.context_dim).bias(false)));
    model = register_module("model", LatentArrayTransformer(o));
}

std::vector<int64_t> DenoiserImpl::context_shape(const ConditionBatch& c, int64_t batch) const {
    if (options.condition == ConditionKind::kImage) {
        TORCH_CHECK(c.image.defined() && c.image.dim() == 3, "image condition: expected tokens [B, T, C]");
        return {batch, c.image.size(1), options.image_dim};  // dropout acts on the raw encoder features
    }
    return {batch, 1, options.context_dim};
}

torch::Tensor DenoiserImpl::context(const ConditionBatch& c, int64_t batch, const torch::Tensor& dropout_u) {
    torch::Tensor ctx;
    auto opts = model->proj_in->weight.options();
    switch (options.condition) {
        case ConditionKind::kNone:
            ctx = torch::zeros({batch, 1, options.context_dim}, opts);
            break;
        case ConditionKind::kCategory:
            TORCH_CHECK(c.category.defined() && c.category.numel() == batch, "category condition: expected ", batch,
                        " category ids");
            ctx = category_emb->forward(c.category.to(opts.device(), at::kLong).reshape({batch})).unsqueeze(1);
            break;
        case ConditionKind::kImage:
            TORCH_CHECK(
                c.image.defined() && c.image.dim() == 3 && c.image.size(0) == batch && c.image.size(2) == options.image_dim,
                "image condition: expected tokens [", batch, ", T, ", options.image_dim, "], got ",
                c.image.defined() ? c.image.sizes() : at::IntArrayRef{});
            ctx = c.image.to(opts);
            if (dropout_u.defined() && options.cond_dropout > 0)
                ctx = ctx * (dropout_u.to(ctx.options()) > options.cond_dropout).to(ctx.scalar_type());
            if (image_proj) ctx = image_proj->forward(ctx);
            return ctx;
    }
    if (dropout_u.defined() && options.cond_dropout > 0)
        ctx = ctx * (dropout_u.to(ctx.options()) > options.cond_dropout).to(ctx.scalar_type());
    return ctx;
}

torch::Tensor DenoiserImpl::forward(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& context,
                                    const torch::Tensor& slot_order) {
    return model->forward(x, t, context, slot_order);
}

int64_t count_parameters(const torch::nn::Module& m) {
    int64_t n = 0;
    for (const auto& p : m.parameters()) n += p.numel();
    return n;
}

}  // namespace mash::models
