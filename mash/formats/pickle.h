// SPDX-License-Identifier: MIT
// Python pickles, read by a small strict virtual machine that accepts only the opcodes and globals
// the supported files contain and throws IoError on anything else (it never executes code):
// pickled-dict .npy files (np.save of a dict: the original MASH implementation's format),
// torch.save archives (the original generator checkpoints) and joblib normalizer files.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mash/formats/npy.h"

namespace mash::formats {

/// A value of a pickled dict: either an array or a Python bool (e.g. `use_inv`).
struct PickledValue {
    bool is_bool = false;
    bool bool_value = false;
    NpyArray array;
};
using PickledDict = std::vector<std::pair<std::string, PickledValue>>;

/// Parses an object .npy file holding a pickled dict of numpy arrays / bools.
PickledDict parse_pickled_dict_npy(const uint8_t* bytes, size_t size, const std::string& what);
/// Writes such a file the way `np.save(path, dict)` does (pickle protocol 3), so that
/// `np.load(path, allow_pickle=True).item()` returns the dict.
std::vector<uint8_t> serialize_pickled_dict_npy(const PickledDict& dict);

/// A `torch.save` archive (PyTorch's zip format: <folder>/data.pkl + <folder>/data/<key> storage
/// records, any folder name), read natively by the strict pickle reader: only tensor rebuilds,
/// storages, OrderedDict, numpy scalars/dtypes and `_codecs.encode` are accepted; any other global
/// is refused. The top level must be a dict; its values come out as state dicts (name → array,
/// tensors copied out of their storages in C order; half/bfloat16 widened to float32), single
/// tensors, numbers (int, float, bool, numpy scalars), None, or "other" (anything else).
struct TorchArchive {
    struct Value {
        enum Kind { kStateDict, kTensor, kNumber, kNone, kOther } kind = kOther;
        NamedArrays state_dict;
        NpyArray tensor;
        double number = 0;
    };
    std::vector<std::pair<std::string, Value>> entries;
};
TorchArchive parse_torch_archive(const uint8_t* bytes, size_t size, const std::string& what);

/// Checks that a pickle (any protocol) is well formed at the opcode level without running it: every
/// opcode known, every argument and length inside the data, memo indices below `max_memo`, a STOP
/// at the end. Throws IoError naming `what`. Used on the pickles of LibTorch archives before
/// LibTorch's own unpickler sees them (it sizes its memo from the file's indices).
void check_pickle(const uint8_t* bytes, size_t size, const std::string& what, uint64_t max_memo = uint64_t(1) << 22);

/// One column of the original MASH diffusion normalizer (distribution-manage's
/// MultiLinearTransformer): its source and target knots.
struct MultiLinearColumn {
    std::vector<double> source, target;
};
/// Reads the original normalizer file (`joblib.dump` of {'0': MultiLinearTransformer, ...}, arrays
/// in joblib's in-stream NumpyArrayWrapper format) with the strict pickle reader: only numpy
/// arrays and the two distribution-manage classes are accepted. Columns in key order.
std::vector<MultiLinearColumn> parse_joblib_multi_linear(const uint8_t* bytes, size_t size, const std::string& what);

}  // namespace mash::formats
