// SPDX-License-Identifier: MIT
#include "mash/formats/npy.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <sstream>

#include "mash/formats/detail.h"
#include "mash/formats/zip.h"

namespace mash::formats {
using namespace detail;

// ---------------------------------------------------------------------------------------------
int64_t NpyArray::numel() const {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
}

std::string NpyArray::descr() const {
    std::string order = itemsize == 1 ? "|" : "<";
    return order + kind + std::to_string(itemsize);
}

std::vector<double> NpyArray::to_double() const {
    const int64_t n = numel();
    std::vector<double> out(n);
    const uint8_t* p = data.data();
    for (int64_t k = 0; k < n; ++k, p += itemsize) {
        switch (kind) {
            case 'f':
                if (itemsize == 8) {
                    double v;
                    std::memcpy(&v, p, 8);
                    out[k] = v;
                } else {
                    float v;
                    std::memcpy(&v, p, 4);
                    out[k] = v;
                }
                break;
            case 'b':
                out[k] = *p ? 1.0 : 0.0;
                break;
            case 'u':
                out[k] = double(read_le(p, itemsize));
                break;
            case 'i': {
                uint64_t u = read_le(p, itemsize);
                int shift = 64 - 8 * itemsize;
                out[k] = double(int64_t(u << shift) >> shift);
                break;
            }
        }
    }
    return out;
}

std::vector<int64_t> NpyArray::to_int64(const std::string& what) const {
    const int64_t n = numel();
    std::vector<int64_t> out(n);
    if (kind == 'i' || kind == 'u' || kind == 'b') {
        const uint8_t* p = data.data();
        for (int64_t k = 0; k < n; ++k, p += itemsize) {
            uint64_t u = read_le(p, itemsize);
            if (kind == 'i') {
                int shift = 64 - 8 * itemsize;
                out[k] = int64_t(u << shift) >> shift;
            } else {
                out[k] = int64_t(u);
            }
        }
        return out;
    }
    auto d = to_double();
    for (int64_t k = 0; k < n; ++k) {
        if (!(std::floor(d[k]) == d[k]) || std::abs(d[k]) > 9.0e15) fail(what, "expected integer values");
        out[k] = int64_t(d[k]);
    }
    return out;
}

NpyArray NpyArray::from_double(const std::vector<double>& values, std::vector<int64_t> shape) {
    NpyArray a;
    a.kind = 'f';
    a.itemsize = 8;
    a.shape = std::move(shape);
    a.data.resize(values.size() * 8);
    std::memcpy(a.data.data(), values.data(), a.data.size());
    return a;
}

NpyArray NpyArray::from_float(const std::vector<float>& values, std::vector<int64_t> shape) {
    NpyArray a;
    a.kind = 'f';
    a.itemsize = 4;
    a.shape = std::move(shape);
    a.data.resize(values.size() * 4);
    std::memcpy(a.data.data(), values.data(), a.data.size());
    return a;
}

NpyArray NpyArray::from_int64(const std::vector<int64_t>& values, std::vector<int64_t> shape) {
    NpyArray a;
    a.kind = 'i';
    a.itemsize = 8;
    a.shape = std::move(shape);
    a.data.resize(values.size() * 8);
    std::memcpy(a.data.data(), values.data(), a.data.size());
    return a;
}

NpyArray NpyArray::scalar_bool(bool v) {
    NpyArray a;
    a.kind = 'b';
    a.itemsize = 1;
    a.data = {uint8_t(v ? 1 : 0)};
    return a;
}

// ---------------------------------------------------------------------------------------------
bool has_npy_magic(const uint8_t* bytes, size_t size) { return size >= 6 && std::memcmp(bytes, "\x93NUMPY", 6) == 0; }

NpyArray parse_npy(const uint8_t* bytes, size_t size, const std::string& what) {
    size_t offset = 0;
    NpyHeader h = parse_header_dict(npy_header(bytes, size, what, &offset), what);
    if (h.descr == "|O" || h.descr == "O") fail(what, "holds pickled Python objects, not a plain numeric array");
    NpyArray a;
    bool big = false;
    parse_descr(h.descr, what, &a.kind, &a.itemsize, &big);
    a.shape = h.shape;
    int64_t n = checked_numel(a.shape, what);
    uint64_t nbytes = uint64_t(n) * uint64_t(a.itemsize);
    if (size - offset != nbytes)
        fail(what, "data size mismatch: header promises " + std::to_string(nbytes) + " bytes, file has " +
                       std::to_string(size - offset) + " (truncated or corrupt)");
    a.data.assign(bytes + offset, bytes + size);
    if (big) byteswap_inplace(a.data, a.itemsize);
    if (h.fortran && a.shape.size() > 1) a.data = fortran_to_c(a.data, a.shape, a.itemsize);
    return a;
}

std::vector<uint8_t> serialize_npy(const NpyArray& array) {
    auto out = npy_preamble(array.descr(), array.shape);
    out.insert(out.end(), array.data.begin(), array.data.end());
    return out;
}

NamedArrays parse_npz(const uint8_t* bytes, size_t size, const std::string& what) {
    NamedArrays out;
    for (auto& e : read_zip(bytes, size, what)) {
        std::string name = e.name;
        if (name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0) name.resize(name.size() - 4);
        out.emplace_back(name, parse_npy(e.data.data(), e.data.size(), what + " (member " + e.name + ")"));
    }
    return out;
}

std::vector<uint8_t> serialize_npz(const NamedArrays& arrays, bool deflate) {
    std::vector<ZipEntry> entries;
    for (const auto& [name, a] : arrays) entries.push_back({name + ".npy", serialize_npy(a)});
    return write_zip(entries, deflate);
}

}  // namespace mash::formats
