// SPDX-License-Identifier: MIT
#include "models/normalizer.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "mash/core/errors.h"
#include "mash/core/files.h"

namespace mash::models {
namespace {

// Piecewise-linear map with slope-1 tails: x [D, M] through knots xs [D, K] → ys [D, K].
at::Tensor interp_tails(const at::Tensor& x, const at::Tensor& xs, const at::Tensor& ys) {
    const int64_t K = xs.size(1);
    at::Tensor idx = (at::searchsorted(xs, x, /*out_int32=*/false, /*right=*/true) - 1).clamp(0, K - 2);
    at::Tensor x0 = xs.gather(1, idx), x1 = xs.gather(1, idx + 1);
    at::Tensor y0 = ys.gather(1, idx), y1 = ys.gather(1, idx + 1);
    at::Tensor inside = y0 + (x - x0) * (y1 - y0) / (x1 - x0);
    at::Tensor lo_x = xs.narrow(1, 0, 1), hi_x = xs.narrow(1, K - 1, 1);
    at::Tensor lo_y = ys.narrow(1, 0, 1), hi_y = ys.narrow(1, K - 1, 1);
    at::Tensor out = at::where(x < lo_x, lo_y - (lo_x - x), inside);
    return at::where(x > hi_x, hi_y + (x - hi_x), out);
}

at::Tensor apply(const at::Tensor& in, const at::Tensor& xs, const at::Tensor& ys, int64_t D, const char* what) {
    TORCH_CHECK(in.dim() >= 1 && in.size(-1) == D, "normalizer ", what, ": expected last dimension ", D, ", got ", in.sizes());
    at::Tensor x = in.detach().to(at::kCPU, at::kDouble).reshape({-1, D}).t().contiguous();  // [D, M]
    at::Tensor y = interp_tails(x, xs, ys.expand({D, ys.size(-1)}).contiguous());
    return y.t().reshape(in.sizes()).to(in.device(), in.scalar_type());
}

}  // namespace

double QuantileNormalizer::normal_quantile(double p) {
    // Acklam's approximation (rel. error 1.15e-9), refined by one Halley step with erfc.
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
                               1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                               -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00};
    if (!(p > 0.0 && p < 1.0)) throw InputError("normal_quantile: p must be in (0, 1)");
    double x;
    if (p < 0.02425) {
        double q = std::sqrt(-2 * std::log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else if (p > 1 - 0.02425) {
        double q = std::sqrt(-2 * std::log(1 - p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else {
        double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
    for (int it = 0; it < 2; ++it) {
        double e = 0.5 * std::erfc(-x / std::sqrt(2.0)) - p;
        double u = e * std::sqrt(2 * M_PI) * std::exp(x * x / 2);
        x = x - u / (1 + x * u / 2);
    }
    return x;
}

QuantileNormalizer QuantileNormalizer::fit(const at::Tensor& data_in, std::vector<std::string> names) {
    if (data_in.dim() != 2 || data_in.size(0) < 2)
        throw InputError("normalizer: need a [N, D] matrix with N >= 2 rows to fit, got " +
                         std::string(c10::str(data_in.sizes())));
    at::Tensor data = data_in.detach().to(at::kCPU, at::kDouble);
    if (!at::isfinite(data).all().item<bool>()) throw InputError("normalizer: non-finite values in the fit data");
    const int64_t n = data.size(0), D = data.size(1);
    at::Tensor sorted = std::get<0>(data.sort(0)).t().contiguous();  // [D, n]
    QuantileNormalizer q;
    q.source_ = at::empty({D, kKnots}, at::kDouble);
    q.target_ = at::tensor(standard_target_knots(), at::kDouble);
    auto* src = q.source_.data_ptr<double>();
    const auto* s = sorted.data_ptr<double>();
    for (int64_t d = 0; d < D; ++d) {
        const double* col = s + d * n;
        double range = col[n - 1] - col[0];
        double step = 1e-9 * std::max(1.0, range);
        for (int64_t i = 0; i < kKnots; ++i) {
            auto k = static_cast<int64_t>(std::trunc(static_cast<double>(i) / 100.0 * static_cast<double>(n - 1)));
            double v = col[k];
            if (i > 0 && v <= src[d * kKnots + i - 1]) v = src[d * kKnots + i - 1] + step;  // tie rule
            src[d * kKnots + i] = v;
        }
    }
    if (names.empty())
        for (int64_t d = 0; d < D; ++d) names.push_back("col_" + std::to_string(d));
    if (static_cast<int64_t>(names.size()) != D) throw InputError("normalizer: column name count != D");
    q.names_ = std::move(names);
    return q;
}

int64_t QuantileNormalizer::dims() const { return source_.defined() ? source_.size(0) : 0; }

at::Tensor QuantileNormalizer::forward(const at::Tensor& x) const {
    TORCH_CHECK(source_.defined(), "normalizer: not fitted");
    return apply(x, source_, target_, dims(), "forward");
}

at::Tensor QuantileNormalizer::inverse(const at::Tensor& y) const {
    TORCH_CHECK(source_.defined(), "normalizer: not fitted");
    return apply(y, target_.expand({dims(), kKnots}).contiguous(), source_, dims(), "inverse");
}

std::string QuantileNormalizer::to_json() const {
    nlohmann::json j;
    j["format"] = "mash-quantile-normalizer";
    j["version"] = 1;
    j["columns"] = names_;
    std::vector<double> t(target_.data_ptr<double>(), target_.data_ptr<double>() + kKnots);
    j["target_knots"] = t;
    nlohmann::json rows = nlohmann::json::array();
    for (int64_t d = 0; d < dims(); ++d) {
        const double* r = source_.data_ptr<double>() + d * kKnots;
        rows.push_back(std::vector<double>(r, r + kKnots));
    }
    j["source_knots"] = rows;
    return j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace);
}

QuantileNormalizer QuantileNormalizer::from_json(const std::string& text, const std::string& what) {
    auto bad = [&](const std::string& why) -> IoError {
        return IoError(what + ": not a valid normalizer file: " + why +
                       " (expected the JSON written by `mash train`: format mash-quantile-normalizer, version 1)");
    };
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const std::exception& e) {
        throw bad(std::string("JSON parse error: ") + e.what());
    }
    try {
        if (j.value("format", "") != "mash-quantile-normalizer") throw bad("wrong or missing 'format'");
        if (j.value("version", 0) != 1) throw bad("unsupported 'version'");
        return from_knots(j.at("source_knots").get<std::vector<std::vector<double>>>(),
                          j.at("target_knots").get<std::vector<double>>(), j.at("columns").get<std::vector<std::string>>(), what);
    } catch (const nlohmann::json::exception& e) {
        throw bad(e.what());
    }
}

QuantileNormalizer QuantileNormalizer::from_knots(const std::vector<std::vector<double>>& rows, const std::vector<double>& t,
                                                  std::vector<std::string> names, const std::string& what) {
    auto bad = [&](const std::string& why) -> IoError {
        return IoError(what + ": not a valid normalizer file: " + why +
                       " (expected the JSON written by `mash train`: format mash-quantile-normalizer, version 1)");
    };
    if (t.size() != kKnots) throw bad("target_knots must have 101 values");
    if (rows.empty() || names.size() != rows.size()) throw bad("columns and source_knots disagree");
    QuantileNormalizer q;
    q.target_ = at::tensor(t, at::kDouble);
    std::vector<double> flat;
    flat.reserve(rows.size() * kKnots);
    for (size_t d = 0; d < rows.size(); ++d) {
        if (rows[d].size() != kKnots) throw bad("source_knots[" + std::to_string(d) + "] must have 101 values");
        for (int64_t i = 0; i < kKnots; ++i) {
            double v = rows[d][i];
            if (!std::isfinite(v) || (i > 0 && v <= rows[d][i - 1]))
                throw bad("source_knots[" + std::to_string(d) + "] must be finite and strictly increasing");
            flat.push_back(v);
        }
    }
    q.source_ = at::tensor(flat, at::kDouble).view({static_cast<int64_t>(rows.size()), kKnots});
    for (int64_t i = 1; i < kKnots; ++i)
        if (!(t[i] > t[i - 1]) || !std::isfinite(t[i]) || !std::isfinite(t[0]))
            throw bad("target_knots must be finite and strictly increasing");
    q.names_ = std::move(names);
    return q;
}

std::vector<double> QuantileNormalizer::standard_target_knots() {
    std::vector<double> t(kKnots);
    for (int64_t i = 0; i < kKnots; ++i) t[i] = normal_quantile(0.001 + i * 0.998 / 100.0);
    return t;
}

void QuantileNormalizer::save(const std::string& path) const {
    std::string s = to_json();
    write_file_atomic(path, std::vector<uint8_t>(s.begin(), s.end()));
}

QuantileNormalizer QuantileNormalizer::load(const std::string& path) {
    auto bytes = read_file(path);
    return from_json(std::string(bytes.begin(), bytes.end()), path);
}

}  // namespace mash::models
