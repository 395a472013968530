// SPDX-License-Identifier: MIT
// The data side of `mash train`: every MASH file (.npz/.npy) under data.root; category = its
// parent folder relative to the root (the fit-dataset layout OUT/<category>/<id>.npz). If a
// fit-dataset manifest is present, only shapes with status ok are used. All shapes must share
// anchors and degrees. Held-out split: a seeded shuffle of the sorted keys, the first
// round(val_fraction·S) shapes (capped) are validation.
#pragma once
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "models/tokens.h"
#include "models/train_config.h"

namespace mash::models {

struct MashSet {
    std::vector<std::string> keys;                 ///< "<category>/<id>"
    std::vector<int64_t> category;                 ///< index into category_names
    std::vector<std::string> category_names;       ///< sorted
    at::Tensor tokens;                             ///< [S, A, C] float64 raw tokens
    std::vector<std::vector<std::string>> images;  ///< image models: each shape's view files (else empty)
    TokenLayout layout;
    int64_t size() const { return static_cast<int64_t>(keys.size()); }
    MashSet subset(const std::vector<int64_t>& rows) const;
};
/// Loads a folder of MASH files (see above). normalize "box": each shape is translated and scaled
/// (exactly: MashParams::scale) so its anchor-position bounding box is centred at 0 with longest
/// side 1, as ShapeNet's normalized models; "none" keeps the coordinates. Throws IoError /
/// InputError naming the file.
/// vocabulary: dataset (one category per folder found, sorted) | shapenet55 (the original's fixed
/// table of 55 ShapeNet synsets; folders named by synset id or usual name).
MashSet load_mash_folder(const std::string& root, Normalize normalize = Normalize::kBox,
                         CategoryTable vocabulary = CategoryTable::kDataset);
/// Pairs every shape <category>/<id> with IMAGE_ROOT/<category>/<id>/*.png|jpg (sorted) and drops
/// shapes without images; returns how many were dropped. Throws IoError if none has images.
int64_t attach_images(MashSet& set, const std::string& image_root);
/// A similarity p → (p − center)·scale (positions and SH distances scale together).
struct BoxFrame {
    double center[3] = {0, 0, 0};
    double scale = 1;
    /// Maps a MASH of the normalized frame back to the original one (in place).
    void undo(MashParams& p) const;
};
/// The "box" normalization of one MASH (in place): anchor bbox centred, longest side 1. Returns
/// the frame, so results can be mapped back.
BoxFrame normalize_to_unit_box(MashParams& p);
/// Train/validation split (indices into the set).
/// Which shapes the global batch of optimizer step `step` holds when the data is visited by epochs
/// (data.order: epochs): position p = step·global_batch + k of the endless sequence of epochs, each
/// a permutation of 0..num_shapes−1 seeded by (seed, epoch). Without replacement within an epoch;
/// a function of the global batch only, so any number of processes (each taking its slice) visits
/// the same shapes in the same order.
std::vector<int64_t> epoch_batch(uint64_t seed, int64_t step, int64_t global_batch, int64_t num_shapes);
void split_train_val(const MashSet& all, double val_fraction, int64_t max_val, uint64_t seed, std::vector<int64_t>& train,
                     std::vector<int64_t>& val);

}  // namespace mash::models
