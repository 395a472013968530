// SPDX-License-Identifier: MIT
// mash/formats: torch-free readers and writers of the file formats that come from anywhere (numpy
// .npy/.npz, zip, Python pickles of numpy dicts, torch.save archives, joblib normalizers); every
// parse function takes a `what` (usually the path) that prefixes its IoError messages, and all
// of them are fuzzed as one unit (tests/fuzz/fuzz_formats.cpp).
// This header: .npy (format 1.0 / 2.0 / 3.0; bool, signed/unsigned ints, float32/float64; little-
// or big-endian; C or Fortran order, always returned in C order) and .npz (zip of .npy members,
// stored or deflate; zip64 extra fields accepted).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mash::formats {

/// A dense n-d array in numpy's memory model: little-endian, C order.
struct NpyArray {
    char kind = 'f';   ///< 'f' float, 'i' signed int, 'u' unsigned int, 'b' bool
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

/// Parses an .npz archive: member "x.npy" becomes array "x".
NamedArrays parse_npz(const uint8_t* bytes, size_t size, const std::string& what);
std::vector<uint8_t> serialize_npz(const NamedArrays& arrays, bool deflate);

/// True if the buffer starts with the .npy magic string.
bool has_npy_magic(const uint8_t* bytes, size_t size);

}  // namespace mash::formats
