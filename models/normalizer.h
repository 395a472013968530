// SPDX-License-Identifier: MIT
// The per-dimension quantile→Gaussian piecewise-linear normalizer (generation-spec §1.4, the
// original's `multi_linear` transformer). For each token column d:
//   source knots x_i = sorted_column[trunc(i/100·(n−1))], i = 0..100 (empirical percentiles)
//   target knots y_i = Φ⁻¹(0.001 + i·0.998/100)          (shared by all columns)
// forward: piecewise-linear interpolation inside [x_0, x_100], slope-1 tails outside;
// inverse: the same map with the knot arrays swapped. Computed in float64; the result has the
// input's dtype. Tie rule (not defined by the original, which uses numpy.interp): repeated source
// knots (an atom in the data) are spread to be strictly increasing by 1e-9·max(1, range) steps, so
// the map is a bijection and forward∘inverse is exact to rounding.
// File: a JSON object {"format": "mash-quantile-normalizer", "version": 1, "columns": [...],
// "target_knots": [101], "source_knots": [D][101]} — readable with json.load.
#pragma once
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace mash::models {

class QuantileNormalizer {
public:
    static constexpr int64_t kKnots = 101;

    QuantileNormalizer() = default;
    /// Fits on data [N, D] (N ≥ 2, finite). Column names are stored in the file.
    static QuantileNormalizer fit(const at::Tensor& data, std::vector<std::string> column_names = {});

    int64_t dims() const;
    /// x [..., D] → y [..., D] (same dtype/device as x).
    at::Tensor forward(const at::Tensor& x) const;
    /// y [..., D] → x [..., D].
    at::Tensor inverse(const at::Tensor& y) const;

    /// From knots (source [D][101], shared target [101]); checks them (finite, strictly
    /// increasing, sizes agree) and throws IoError("<what>: not a valid normalizer ...").
    static QuantileNormalizer from_knots(const std::vector<std::vector<double>>& source, const std::vector<double>& target,
                                         std::vector<std::string> column_names, const std::string& what);
    /// The shared target knots Φ⁻¹(0.001 + i·0.998/100), i = 0..100.
    static std::vector<double> standard_target_knots();

    std::string to_json() const;
    static QuantileNormalizer from_json(const std::string& text, const std::string& what);
    void save(const std::string& path) const;  ///< atomic
    static QuantileNormalizer load(const std::string& path);

    const at::Tensor& source_knots() const { return source_; }  ///< [D, 101] float64
    const at::Tensor& target_knots() const { return target_; }  ///< [101] float64
    const std::vector<std::string>& column_names() const { return names_; }

    /// Φ⁻¹(p) in double precision (Acklam's rational approximation + one Halley step).
    static double normal_quantile(double p);

private:
    at::Tensor source_, target_;
    std::vector<std::string> names_;
};

}  // namespace mash::models
