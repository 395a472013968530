// SPDX-License-Identifier: MIT
#include "models/tokens.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "mash/core/errors.h"
#include "mash/ops/rotation/rotation.h"

namespace mash::models {

std::vector<std::string> TokenLayout::column_names() const {
    std::vector<std::string> n;
    for (int i = 0; i < 6; ++i) n.push_back("rot6d_" + std::to_string(i));
    n.insert(n.end(), {"pos_x", "pos_y", "pos_z"});
    for (int64_t i = 0; i < mask_dim(); ++i) n.push_back("mask_" + std::to_string(i));
    for (int64_t i = 0; i < sh_dim(); ++i) n.push_back("sh_" + std::to_string(i));
    return n;
}

namespace {
uint64_t spread_bits(uint64_t v) {  // 10 bits → every third bit
    v &= 0x3ff;
    v = (v | (v << 16)) & 0x30000ff;
    v = (v | (v << 8)) & 0x300f00f;
    v = (v | (v << 4)) & 0x30c30c3;
    v = (v | (v << 2)) & 0x9249249;
    return v;
}
}  // namespace

at::Tensor canonical_anchor_order(const at::Tensor& tokens) {
    if (tokens.dim() == 2) return canonical_anchor_order(tokens.unsqueeze(0)).squeeze(0);
    if (tokens.dim() != 3 || tokens.size(2) < 9) throw InputError("canonical anchor order: expected tokens [S, A, C >= 9]");
    at::Tensor pos = tokens.narrow(2, 6, 3).to(at::kCPU, at::kDouble).contiguous();
    const int64_t S = tokens.size(0), A = tokens.size(1);
    at::Tensor order = at::empty({S, A}, at::kLong);
    const double* pp = pos.data_ptr<double>();
    int64_t* op = order.data_ptr<int64_t>();
    std::vector<uint64_t> code(A);
    for (int64_t s = 0; s < S; ++s) {
        const double* q = pp + s * A * 3;
        double lo[3], hi[3];
        for (int d = 0; d < 3; ++d) lo[d] = hi[d] = q[d];
        for (int64_t a = 0; a < A; ++a)
            for (int d = 0; d < 3; ++d) lo[d] = std::min(lo[d], q[a * 3 + d]), hi[d] = std::max(hi[d], q[a * 3 + d]);
        for (int64_t a = 0; a < A; ++a) {
            uint64_t c = 0;
            for (int d = 0; d < 3; ++d) {
                const double span = hi[d] - lo[d];
                const double u = span > 0 ? (q[a * 3 + d] - lo[d]) / span : 0.0;
                c |= spread_bits(static_cast<uint64_t>(std::clamp(u, 0.0, 1.0) * 1023.0 + 0.5)) << (2 - d);
            }
            code[a] = c;
        }
        int64_t* o = op + s * A;
        for (int64_t a = 0; a < A; ++a) o[a] = a;
        std::stable_sort(o, o + A, [&](int64_t x, int64_t y) { return code[x] < code[y]; });
    }
    return tokens.gather(1, order.to(tokens.device()).unsqueeze(-1).expand(tokens.sizes()));
}

at::Tensor tokens_from_mash(const MashParams& p) {
    const auto opts = at::TensorOptions().dtype(at::kDouble);
    const int64_t A = p.num_anchors;
    auto wrap = [&](const std::vector<double>& v, int64_t w) {
        return at::from_blob(const_cast<double*>(v.data()), {A, w}, opts).clone();
    };
    at::Tensor R = ops::rotation::matrix_from_axis_angle(wrap(p.rotate_vectors, 3));
    at::Tensor o = ops::rotation::ortho6d_from_matrix(R);  // columns x then y
    return at::cat({o, wrap(p.positions, 3), wrap(p.mask_params, p.mask_dim()), wrap(p.sh_params, p.sh_dim())}, 1).contiguous();
}

at::Tensor matrix_from_token_ortho6d(const at::Tensor& o) {
    auto normalize = [](const at::Tensor& v) { return v / v.norm(2, -1, true).clamp_min(1e-8); };
    at::Tensor a = o.narrow(-1, 0, 3), b = o.narrow(-1, 3, 3);
    at::Tensor x = normalize(a);
    at::Tensor z = normalize(at::cross(x, b, -1));
    at::Tensor y = at::cross(z, x, -1);
    return at::stack({x, y, z}, -1);  // columns
}

MashParams mash_from_tokens(const at::Tensor& tokens, const TokenLayout& layout, bool use_inverse) {
    if (tokens.dim() != 2 || tokens.size(1) != layout.channels()) {
        std::ostringstream s;
        s << "tokens: expected [A, " << layout.channels() << "] for mask degree " << layout.mask_degree << " and SH degree "
          << layout.sh_degree << ", got " << tokens.sizes();
        throw InputError(s.str());
    }
    at::Tensor t = tokens.detach().to(at::kCPU, at::kDouble).contiguous();
    if (!at::isfinite(t).all().item<bool>()) throw InputError("tokens: non-finite values (the sampler diverged)");
    const int64_t A = t.size(0);
    MashParams p = MashParams::zeros(A, layout.mask_degree, layout.sh_degree);
    p.use_inverse = use_inverse;
    at::Tensor r = ops::rotation::axis_angle_from_matrix(matrix_from_token_ortho6d(t.narrow(1, 0, 6))).contiguous();
    auto copy = [&](const at::Tensor& src, std::vector<double>& dst) {
        at::Tensor c = src.contiguous();
        std::copy(c.data_ptr<double>(), c.data_ptr<double>() + c.numel(), dst.begin());
    };
    copy(r, p.rotate_vectors);
    copy(t.narrow(1, 6, 3), p.positions);
    copy(t.narrow(1, 9, layout.mask_dim()), p.mask_params);
    copy(t.narrow(1, 9 + layout.mask_dim(), layout.sh_dim()), p.sh_params);
    return p;
}

std::vector<int64_t> select_anchors(const MashParams& p, const std::string& spec, const std::string& what) {
    std::vector<int64_t> out;
    const int64_t A = p.num_anchors;
    auto bad = [&](const std::string& why) {
        throw InputError(what + ": bad anchor selection '" + spec + "': " + why +
                         " (expected 'all', index ranges like '0-99,120', or 'box=xmin,ymin,zmin,xmax,ymax,zmax')");
    };
    if (spec == "all" || spec.empty()) {
        for (int64_t i = 0; i < A; ++i) out.push_back(i);
        return out;
    }
    if (spec.rfind("box=", 0) == 0) {
        std::vector<double> b;
        std::stringstream ss(spec.substr(4));
        std::string item;
        while (std::getline(ss, item, ',')) {
            try {
                size_t used = 0;
                b.push_back(std::stod(item, &used));
                if (used != item.size()) bad("'" + item + "' is not a number");
            } catch (const std::logic_error&) {
                bad("'" + item + "' is not a number");
            }
        }
        if (b.size() != 6) bad("a box needs 6 numbers");
        for (int64_t a = 0; a < A; ++a) {
            bool in = true;
            for (int d = 0; d < 3; ++d) {
                double v = p.positions[a * 3 + d];
                in = in && v >= b[d] && v <= b[d + 3];
            }
            if (in) out.push_back(a);
        }
        if (out.empty()) bad("no anchor lies inside the box");
        return out;
    }
    std::stringstream ss(spec);
    std::string item;
    while (std::getline(ss, item, ',')) {
        auto dash = item.find('-', 1);
        try {
            size_t u1 = 0, u2 = 0;
            int64_t lo = std::stoll(item.substr(0, dash), &u1), hi = lo;
            if (dash != std::string::npos) hi = std::stoll(item.substr(dash + 1), &u2);
            if (u1 != item.substr(0, dash).size() || (dash != std::string::npos && u2 != item.size() - dash - 1))
                bad("'" + item + "' is not an index or range");
            if (lo < 0 || hi >= A || lo > hi) bad("range " + item + " outside 0.." + std::to_string(A - 1));
            for (int64_t i = lo; i <= hi; ++i) out.push_back(i);
        } catch (const std::logic_error&) {
            bad("'" + item + "' is not an index or range");
        }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    if (out.empty()) bad("empty selection");
    return out;
}

MashParams subset_anchors(const MashParams& p, const std::vector<int64_t>& idx) {
    MashParams q = MashParams::zeros(static_cast<int64_t>(idx.size()), p.mask_degree, p.sh_degree);
    q.use_inverse = p.use_inverse;
    auto take = [&](const std::vector<double>& src, std::vector<double>& dst, int64_t w) {
        for (size_t k = 0; k < idx.size(); ++k)
            std::copy_n(src.begin() + idx[k] * w, w, dst.begin() + static_cast<int64_t>(k) * w);
    };
    take(p.rotate_vectors, q.rotate_vectors, 3);
    take(p.positions, q.positions, 3);
    take(p.mask_params, q.mask_params, p.mask_dim());
    take(p.sh_params, q.sh_params, p.sh_dim());
    return q;
}

}  // namespace mash::models
