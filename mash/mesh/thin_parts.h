// SPDX-License-Identifier: MIT
// Samples that do not bound a solid (open sheets, thin walls), found from the winding-number field
// (winding.h), turned into thin closed slabs for Poisson; Poisson's input thinned to one sample per
// cell and side. Torch-free.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

namespace mash::mesh {

/// Samples that do not bound a solid: where the field of the oriented samples does not go from 1
/// behind the surface to 0 in front of it — open sheets (≈ −½ in front, ½ behind), walls thinner
/// than the samples resolve and parts whose orientation stayed inconsistent (both sides mixed).
/// Poisson turns these into capped volumes or blobs; thicken_thin gives it a closed slab
/// instead. Evaluated on at most `max_samples` samples (an even random subset, which also
/// carries the field), at p ± δn (δ = `delta_spacings` median sample spacings, the sample's own
/// dipole left out): the deviation max(|w(p + δn)|, |1 − w(p − δn)|) is averaged over each
/// sample's `smooth_k` nearest evaluated neighbours (single samples are noisy at creases and
/// rims) and compared with `threshold`; the other samples take the answer of their nearest
/// evaluated one. Samples with a zero normal are never marked. Optionally returns the averaged
/// deviation per sample.
struct ThinOptions {
    int64_t max_samples = 20000;
    double delta_spacings = 3.0;
    double threshold = 0.3;
    int smooth_k = 48;
    double min_region = 0.03;   ///< marked regions (k-NN connected) smaller than this fraction of the evaluated samples are
                                ///< dropped; unmarked ones as small that border marked samples (holes) are marked
    double eps_spacings = 1.5;  ///< regularization radius, as WindingOrientOptions
};
std::vector<char> thin_mask(const std::vector<double>& points, const std::vector<double>& normals, const ThinOptions& o = {},
                            std::vector<double>* deviation = nullptr);

/// The share of the field's ½-level set that no sample supports, predicted before Poisson: the
/// membrane Poisson would span across the opening of a cup-shaped open sheet (a bowl whose two
/// walls the samples do not resolve, left unmarked by thin_mask because it looks nearly
/// enclosed). The field of the samples not in `mask` (thickened samples cancel in pairs) on a
/// `grid`³ lattice over the samples' box (padded by 10 %); each lattice edge where it crosses ½
/// counts once, as unsupported if the crossing lies farther than `radius` from every sample.
/// Returns unsupported / all crossings (0 without crossings). Same subset, areas and radius as
/// thin_mask (`o`).
double membrane_fraction(const std::vector<double>& points, const std::vector<double>& normals, const std::vector<char>& mask,
                         double radius, int grid = 40, const ThinOptions& o = {});

/// thin_mask and membrane_fraction on the same samples, sharing their work: the evaluated subset,
/// its areas, the field in front of and behind each sample and the neighbour graphs are computed
/// once (lazily), so that trying several thresholds (poisson()'s open-sheet step) costs little more
/// than one. Keeps a copy of the samples. Not safe to call from several threads at once.
class ThinField {
public:
    ThinField(const std::vector<double>& points, const std::vector<double>& normals, const ThinOptions& o = {});
    ~ThinField();
    ThinField(const ThinField&) = delete;
    ThinField& operator=(const ThinField&) = delete;
    /// thin_mask with this threshold (the other options as constructed).
    std::vector<char> mask(double threshold, std::vector<double>* deviation = nullptr) const;
    /// membrane_fraction for this mask.
    double membrane_fraction(const std::vector<char>& mask, double radius, int grid = 40) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// A closed surface Poisson can reconstruct from a sheet: every masked sample (p, n) becomes
/// two, (p + εn, n) and (p − εn, −n) — a slab of thickness 2ε around the sheet, whose sides are
/// both outsides. Unmasked samples are kept. Returns the number of samples doubled.
int64_t thicken_thin(std::vector<double>& points, std::vector<double>& normals, const std::vector<char>& mask, double offset);

/// Poisson's input at the resolution it resolves: in each cubic cell of side `cell` (grid
/// anchored at `lo`) one sample per side of the surface is kept — the cell's samples are grouped
/// by normal (a sample joins the first group whose first normal it agrees with, dot > 0, so a
/// thin slab's two sides stay apart) and each group keeps its sample nearest the cell's centre.
/// The kept samples stay in their original order. Returns how many were kept.
int64_t one_sample_per_cell(std::vector<double>& points, std::vector<double>& normals, const double* lo, double cell);

}  // namespace mash::mesh
