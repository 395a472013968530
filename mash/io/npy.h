// SPDX-License-Identifier: MIT
// Torch-free readers and writers for numpy's container formats:
//   * .npy  (format versions 1.0 / 2.0 / 3.0; bool, signed/unsigned ints, float32/float64;
//            little- or big-endian; C or Fortran order — always returned in C order),
//   * .npz  (zip archive of .npy members, stored or deflate; zip64 extra fields accepted),
//   * pickled-dict .npy files as written by `np.save(path, {"key": array, ...})` — the original
//     MASH implementation's file format. The pickle reader is a small, strict virtual machine: it
//     accepts only the opcodes and the numpy globals such files contain and throws IoError on
//     anything else (it never executes arbitrary code).
// Every parse function takes a `what` string (usually the file path) that prefixes error messages.
// These functions are exposed to files from anywhere and are fuzzed (tests/fuzz/fuzz_formats.cpp).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace mash::io {

/// A dense n-d array in numpy's memory model: little-endian, C order.
struct NpyArray {
    char kind = 'f';  ///< 'f' float, 'i' signed int, 'u' unsigned int, 'b' bool
    int itemsize = 8;  ///< bytes per element (1, 2, 4 or 8)
    std::vector<int64_t> shape;
    std::vector<uint8_t> data;  ///< numel()*itemsize bytes, little-endian, C order

    int64_t numel() const;
    /// numpy's descr string, e.g. "<f8", "|b1".
    std::string descr() const;
    /// All elements converted to double (ints and bools exactly up to 2^53).
    std::vector<double> to_double() const;
    /// All elements converted to int64 (floats must be integral, else IoError).
    std::vector<int64_t> to_int64(const std::string& what) const;

    static NpyArray from_double(const std::vector<double>& values, std::vector<int64_t> shape);
    static NpyArray from_float(const std::vector<float>& values, std::vector<int64_t> shape);
    static NpyArray from_int64(const std::vector<int64_t>& values, std::vector<int64_t> shape);
    static NpyArray scalar_bool(bool v);
};

/// Named arrays in file order.
using NamedArrays = std::vector<std::pair<std::string, NpyArray>>;

/// Parses a whole .npy byte buffer. Throws IoError("<what>: ...") on any malformation.
NpyArray parse_npy(const uint8_t* bytes, size_t size, const std::string& what);
/// Serializes to .npy format 1.0 (header padded to 64 bytes, as numpy does).
std::vector<uint8_t> serialize_npy(const NpyArray& array);

struct ZipEntry {
    std::string name;
    std::vector<uint8_t> data;
};
/// Reads every member of a zip archive (stored or deflate), verifying sizes and CRC-32.
std::vector<ZipEntry> read_zip(const uint8_t* bytes, size_t size, const std::string& what);
/// Writes a zip archive (no zip64: each member and the archive must stay below 4 GiB).
std::vector<uint8_t> write_zip(const std::vector<ZipEntry>& entries, bool deflate);

/// Parses an .npz archive: member "x.npy" becomes array "x".
NamedArrays parse_npz(const uint8_t* bytes, size_t size, const std::string& what);
std::vector<uint8_t> serialize_npz(const NamedArrays& arrays, bool deflate);

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

/// One column of the original MASH diffusion normalizer (distribution-manage's
/// MultiLinearTransformer): its source and target knots.
struct MultiLinearColumn {
    std::vector<double> source, target;
};
/// Reads the original normalizer file (`joblib.dump` of {'0': MultiLinearTransformer, ...}, arrays
/// in joblib's in-stream NumpyArrayWrapper format) with the strict pickle reader: only numpy
/// arrays and the two distribution-manage classes are accepted. Columns in key order.
std::vector<MultiLinearColumn> parse_joblib_multi_linear(const uint8_t* bytes, size_t size, const std::string& what);

/// True if the buffer starts with the .npy magic string.
bool has_npy_magic(const uint8_t* bytes, size_t size);

/// Whole-file helpers. read_file throws IoError naming the path; write_file_atomic writes to a
/// temporary file in the same directory and renames it, so readers never see a partial file.
std::vector<uint8_t> read_file(const std::string& path);
void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes);
/// Atomic write through a writer that takes a file name (e.g. an Open3D writer): `writer` gets a
/// temporary path in the target's directory with the same extension and returns success; the
/// file is then renamed over `path`. Throws IoError("<path>: cannot write <what>") on failure and
/// leaves nothing behind.
void write_atomically(const std::string& path, const std::string& what,
                      const std::function<bool(const std::string& tmp_path)>& writer);
/// The lower-cased extension with its dot (".ply"), or "".
std::string lower_extension(const std::string& path);

}  // namespace mash::io
