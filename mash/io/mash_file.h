// SPDX-License-Identifier: MIT
// Reading and writing MASH files.
//
// Canonical format (.npz, what `mash` writes): an uncompressed or deflate zip readable by
// `numpy.load`, with float64 arrays
//     rotate_vectors [A,3], positions [A,3], mask_params [A,2K+1], sh_params [A,(L+1)²]
// and a 0-d bool array `use_inv`. Degrees are inferred from the shapes.
//
// Also read (and, for .npy, written in the paper-era layout):
//   * the original implementation's .npy files: a pickled dict with the same keys, where the
//     rotation is either `rotate_vectors` [A,3] (paper-era axis-angle, R = Rodrigues(r)) or
//     `ortho_poses` [A,6] (HEAD: the first two ROWS of R, Gram–Schmidt orthonormalized; spec §5.3);
//   * .npz files holding `ortho_poses` instead of `rotate_vectors` (e.g. bunny_a400_params.npz).
// Any dtype among float32/float64 (and ints) is accepted on read. Errors name the file, the key
// and what was expected.
#pragma once
#include <string>

#include "mash/core/mash_params.h"

namespace mash::io {

enum class MashFileLayout { kAuto, kNpz, kNpyAxisAngle };

/// Loads and validates a MASH file (.npz or .npy). Throws IoError / InputError.
MashParams load_mash(const std::string& path);
/// Parses MASH bytes (`what` names the source in messages). Format is detected from the bytes.
MashParams parse_mash(const uint8_t* bytes, size_t size, const std::string& what);

/// True if `path` is a MASH file (.npz with sh_params, or a pickled-dict .npy) rather than a
/// numeric point array. Throws IoError if the file cannot be read.
bool is_mash_file(const std::string& path);

/// Saves atomically. The layout follows the extension: .npz → canonical; .npy → the paper-era
/// pickled dict (rotate_vectors), loadable by the original code with np.load(allow_pickle=True).
void save_mash(const std::string& path, const MashParams& params, bool compress = false);

}  // namespace mash::io
