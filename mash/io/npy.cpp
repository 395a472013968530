// SPDX-License-Identifier: MIT
#include "mash/io/npy.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <deque>
#include <map>
#include <memory>
#include <sstream>
#include <filesystem>
#include <unistd.h>

#include "mash/core/errors.h"

namespace mash::io {
namespace {

constexpr int64_t kMaxElements = int64_t(1) << 40;

[[noreturn]] void fail(const std::string& what, const std::string& msg) {
    throw IoError(what + ": " + msg);
}

uint64_t read_le(const uint8_t* p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

void put_le(std::vector<uint8_t>& out, uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out.push_back(uint8_t((v >> (8 * i)) & 0xff));
}

int64_t checked_numel(const std::vector<int64_t>& shape, const std::string& what) {
    int64_t n = 1;
    for (int64_t d : shape) {
        if (d < 0) fail(what, "negative dimension in shape");
        if (d != 0 && n > kMaxElements / d) fail(what, "shape too large");
        n *= d;
    }
    return n;
}

bool valid_kind_size(char kind, int itemsize) {
    switch (kind) {
        case 'f': return itemsize == 4 || itemsize == 8;
        case 'i':
        case 'u': return itemsize == 1 || itemsize == 2 || itemsize == 4 || itemsize == 8;
        case 'b': return itemsize == 1;
        default: return false;
    }
}

/// Parses a numpy descr ("<f8", "|b1", ">i4", "f8") into kind/itemsize/byte order.
void parse_descr(const std::string& d, const std::string& what, char* kind, int* itemsize,
                 bool* big_endian) {
    size_t pos = 0;
    *big_endian = false;
    if (!d.empty() && (d[0] == '<' || d[0] == '>' || d[0] == '|' || d[0] == '=')) {
        *big_endian = d[0] == '>';
        pos = 1;
    }
    if (d.size() < pos + 2) fail(what, "unsupported dtype '" + d + "'");
    *kind = d[pos];
    std::string size_str = d.substr(pos + 1);
    if (size_str.size() > 2 || !std::all_of(size_str.begin(), size_str.end(), ::isdigit))
        fail(what, "unsupported dtype '" + d + "'");
    *itemsize = std::stoi(size_str);
    if (!valid_kind_size(*kind, *itemsize))
        fail(what, "unsupported dtype '" + d +
                       "' (expected bool, int8..int64, uint8..uint64, float32 or float64)");
    if (*itemsize == 1) *big_endian = false;
}

void byteswap_inplace(std::vector<uint8_t>& data, int itemsize) {
    for (size_t i = 0; i + itemsize <= data.size(); i += itemsize)
        std::reverse(data.begin() + i, data.begin() + i + itemsize);
}

/// Converts Fortran-order data to C order.
std::vector<uint8_t> fortran_to_c(const std::vector<uint8_t>& src, const std::vector<int64_t>& shape,
                                  int itemsize) {
    const size_t nd = shape.size();
    int64_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<uint8_t> dst(src.size());
    std::vector<int64_t> idx(nd, 0);
    for (int64_t c = 0; c < n; ++c) {
        // idx is the multi-index of C-order element c; compute its Fortran offset.
        int64_t f = 0, stride = 1;
        for (size_t k = 0; k < nd; ++k) {
            f += idx[k] * stride;
            stride *= shape[k];
        }
        std::memcpy(&dst[c * itemsize], &src[f * itemsize], itemsize);
        for (size_t k = nd; k-- > 0;) {
            if (++idx[k] < shape[k]) break;
            idx[k] = 0;
        }
    }
    return dst;
}

// ---------------------------------------------------------------------------------------------
// A strict parser for the Python dict literal of an .npy header.
struct HeaderParser {
    const std::string& s;
    const std::string& what;
    size_t i = 0;

    void ws() {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n')) ++i;
    }
    void expect(char c) {
        ws();
        if (i >= s.size() || s[i] != c) fail(what, std::string("malformed .npy header (expected '") + c + "')");
        ++i;
    }
    bool peek(char c) {
        ws();
        return i < s.size() && s[i] == c;
    }
    std::string str() {
        ws();
        if (i >= s.size() || (s[i] != '\'' && s[i] != '"')) fail(what, "malformed .npy header (expected a string)");
        char q = s[i++];
        size_t j = s.find(q, i);
        if (j == std::string::npos) fail(what, "malformed .npy header (unterminated string)");
        std::string r = s.substr(i, j - i);
        i = j + 1;
        return r;
    }
    bool boolean() {
        ws();
        if (s.compare(i, 4, "True") == 0) { i += 4; return true; }
        if (s.compare(i, 5, "False") == 0) { i += 5; return false; }
        fail(what, "malformed .npy header (expected True/False)");
    }
    std::vector<int64_t> tuple() {
        expect('(');
        std::vector<int64_t> r;
        while (!peek(')')) {
            ws();
            size_t j = i;
            while (j < s.size() && isdigit((unsigned char)s[j])) ++j;
            if (j == i || j - i > 15) fail(what, "malformed .npy header (bad shape entry)");
            r.push_back(std::stoll(s.substr(i, j - i)));
            i = j;
            if (peek(',')) ++i;
            else if (!peek(')')) fail(what, "malformed .npy header (bad shape tuple)");
            if (r.size() > 32) fail(what, "too many dimensions");
        }
        ++i;
        return r;
    }
};

}  // namespace

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
                if (itemsize == 8) { double v; std::memcpy(&v, p, 8); out[k] = v; }
                else { float v; std::memcpy(&v, p, 4); out[k] = v; }
                break;
            case 'b': out[k] = *p ? 1.0 : 0.0; break;
            case 'u': out[k] = double(read_le(p, itemsize)); break;
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
bool has_npy_magic(const uint8_t* bytes, size_t size) {
    return size >= 6 && std::memcmp(bytes, "\x93NUMPY", 6) == 0;
}

namespace {
/// Parses the .npy preamble; returns the header dict text and sets *offset to the data start.
std::string npy_header(const uint8_t* bytes, size_t size, const std::string& what, size_t* offset) {
    if (!has_npy_magic(bytes, size)) fail(what, "not an .npy file (missing \\x93NUMPY magic)");
    if (size < 10) fail(what, "truncated .npy header");
    int major = bytes[6];
    size_t hlen, start;
    if (major == 1) {
        hlen = read_le(bytes + 8, 2);
        start = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12) fail(what, "truncated .npy header");
        hlen = read_le(bytes + 8, 4);
        start = 12;
    } else {
        fail(what, "unsupported .npy format version " + std::to_string(major) + " (expected 1, 2 or 3)");
    }
    if (hlen > size - start) fail(what, "truncated .npy header");
    *offset = start + hlen;
    return std::string(reinterpret_cast<const char*>(bytes + start), hlen);
}

struct NpyHeader {
    std::string descr;
    bool fortran = false;
    std::vector<int64_t> shape;
};

NpyHeader parse_header_dict(const std::string& text, const std::string& what) {
    HeaderParser p{text, what};
    NpyHeader h;
    bool got_descr = false, got_fortran = false, got_shape = false;
    p.expect('{');
    while (!p.peek('}')) {
        std::string key = p.str();
        p.expect(':');
        if (key == "descr") { h.descr = p.str(); got_descr = true; }
        else if (key == "fortran_order") { h.fortran = p.boolean(); got_fortran = true; }
        else if (key == "shape") { h.shape = p.tuple(); got_shape = true; }
        else fail(what, "unexpected key '" + key + "' in .npy header");
        if (p.peek(',')) ++p.i;
        else if (!p.peek('}')) fail(what, "malformed .npy header");
    }
    if (!got_descr || !got_fortran || !got_shape)
        fail(what, "incomplete .npy header (needs descr, fortran_order and shape)");
    return h;
}
}  // namespace

NpyArray parse_npy(const uint8_t* bytes, size_t size, const std::string& what) {
    size_t offset = 0;
    NpyHeader h = parse_header_dict(npy_header(bytes, size, what, &offset), what);
    if (h.descr == "|O" || h.descr == "O")
        fail(what, "holds pickled Python objects, not a plain numeric array");
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

namespace {
std::vector<uint8_t> npy_preamble(const std::string& descr, const std::vector<int64_t>& shape) {
    std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (";
    for (size_t k = 0; k < shape.size(); ++k) {
        dict += std::to_string(shape[k]);
        if (shape.size() == 1 || k + 1 < shape.size()) dict += ",";
        if (k + 1 < shape.size()) dict += " ";
    }
    dict += "), }";
    size_t total = 10 + dict.size() + 1;
    size_t pad = (64 - total % 64) % 64;
    dict += std::string(pad, ' ') + "\n";
    std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
    put_le(out, dict.size(), 2);
    out.insert(out.end(), dict.begin(), dict.end());
    return out;
}
}  // namespace

std::vector<uint8_t> serialize_npy(const NpyArray& array) {
    auto out = npy_preamble(array.descr(), array.shape);
    out.insert(out.end(), array.data.begin(), array.data.end());
    return out;
}

// ---------------------------------------------------------------------------------------------
// zip
namespace {
std::vector<uint8_t> inflate_raw(const uint8_t* src, size_t n, size_t expected, const std::string& what) {
    std::vector<uint8_t> out(expected);
    z_stream zs{};
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) fail(what, "zlib init failed");
    zs.next_in = const_cast<Bytef*>(src);
    zs.avail_in = uInt(n);
    zs.next_out = out.data();
    zs.avail_out = uInt(expected);
    int rc = inflate(&zs, Z_FINISH);
    size_t produced = expected - zs.avail_out;
    inflateEnd(&zs);
    if (rc != Z_STREAM_END || produced != expected) fail(what, "corrupt deflate data in zip member");
    return out;
}

std::vector<uint8_t> deflate_raw(const std::vector<uint8_t>& src) {
    z_stream zs{};
    deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    std::vector<uint8_t> out(deflateBound(&zs, uLong(src.size())));
    zs.next_in = const_cast<Bytef*>(src.data());
    zs.avail_in = uInt(src.size());
    zs.next_out = out.data();
    zs.avail_out = uInt(out.size());
    deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}
}  // namespace

std::vector<ZipEntry> read_zip(const uint8_t* b, size_t size, const std::string& what) {
    if (size < 22) fail(what, "not a zip/.npz archive (too short)");
    // Locate the end-of-central-directory record (it may be followed by a comment of <= 64 KiB).
    size_t eocd = std::string::npos;
    size_t lo = size > 22 + 65535 ? size - 22 - 65535 : 0;
    for (size_t p = size - 22 + 1; p-- > lo;) {
        if (read_le(b + p, 4) == 0x06054b50) { eocd = p; break; }
    }
    if (eocd == std::string::npos) fail(what, "not a zip/.npz archive (no end-of-central-directory record; truncated?)");
    uint64_t count = read_le(b + eocd + 10, 2);
    uint64_t cd_size = read_le(b + eocd + 12, 4);
    uint64_t cd_off = read_le(b + eocd + 16, 4);
    if (cd_off == 0xffffffffu || count == 0xffff) {
        // zip64: the locator sits right before the EOCD.
        if (eocd < 20 || read_le(b + eocd - 20, 4) != 0x07064b50) fail(what, "corrupt zip64 archive");
        uint64_t rec = read_le(b + eocd - 20 + 8, 8);
        if (rec > size - 56 || read_le(b + rec, 4) != 0x06064b50) fail(what, "corrupt zip64 archive");
        count = read_le(b + rec + 32, 8);
        cd_size = read_le(b + rec + 40, 8);
        cd_off = read_le(b + rec + 48, 8);
    }
    if (cd_off > size || cd_size > size - cd_off) fail(what, "corrupt zip central directory");
    if (count > 100000) fail(what, "zip archive has too many members");
    std::vector<ZipEntry> out;
    size_t p = cd_off;
    const size_t end = cd_off + cd_size;
    for (uint64_t k = 0; k < count; ++k) {
        if (p + 46 > end || read_le(b + p, 4) != 0x02014b50) fail(what, "corrupt zip central directory");
        uint64_t method = read_le(b + p + 10, 2);
        uint64_t crc = read_le(b + p + 16, 4);
        uint64_t csize = read_le(b + p + 20, 4);
        uint64_t usize = read_le(b + p + 24, 4);
        uint64_t nlen = read_le(b + p + 28, 2), xlen = read_le(b + p + 30, 2), clen = read_le(b + p + 32, 2);
        uint64_t loff = read_le(b + p + 42, 4);
        if (p + 46 + nlen + xlen + clen > end) fail(what, "corrupt zip central directory");
        std::string name(reinterpret_cast<const char*>(b + p + 46), nlen);
        // zip64 extended information in the extra field.
        size_t x = p + 46 + nlen, xend = x + xlen;
        while (x + 4 <= xend) {
            uint64_t id = read_le(b + x, 2), len = read_le(b + x + 2, 2);
            if (x + 4 + len > xend) break;
            if (id == 0x0001) {
                size_t q = x + 4, qend = q + len;
                auto take = [&](uint64_t& field) {
                    if (field == 0xffffffffu) {
                        if (q + 8 > qend) fail(what, "corrupt zip64 extra field");
                        field = read_le(b + q, 8);
                        q += 8;
                    }
                };
                take(usize);
                take(csize);
                take(loff);
            }
            x += 4 + len;
        }
        p += 46 + nlen + xlen + clen;
        if (loff > size - 30 || read_le(b + loff, 4) != 0x04034b50) fail(what, "corrupt zip member '" + name + "'");
        uint64_t lnlen = read_le(b + loff + 26, 2), lxlen = read_le(b + loff + 28, 2);
        uint64_t data_off = loff + 30 + lnlen + lxlen;
        if (data_off > size || csize > size - data_off) fail(what, "truncated zip member '" + name + "'");
        if (usize > (uint64_t(1) << 36)) fail(what, "zip member '" + name + "' is too large");
        // Deflate cannot expand more than ~1032:1; a larger claim is a corrupt (or hostile) header,
        // and must not make us allocate the claimed size.
        if (method == 8 && usize > 1032 * csize + 1024)
            fail(what, "zip member '" + name + "' claims an impossible uncompressed size (corrupt file)");
        ZipEntry e;
        e.name = name;
        if (method == 0) {
            if (csize != usize) fail(what, "corrupt stored zip member '" + name + "'");
            e.data.assign(b + data_off, b + data_off + csize);
        } else if (method == 8) {
            e.data = inflate_raw(b + data_off, csize, usize, what + " (" + name + ")");
        } else {
            fail(what, "zip member '" + name + "' uses compression method " + std::to_string(method) +
                           " (expected stored or deflate)");
        }
        if (crc32(0L, e.data.data(), uInt(e.data.size())) != crc)
            fail(what, "CRC mismatch in zip member '" + name + "' (corrupt file)");
        out.push_back(std::move(e));
    }
    return out;
}

std::vector<uint8_t> write_zip(const std::vector<ZipEntry>& entries, bool deflate) {
    std::vector<uint8_t> out, cd;
    for (const auto& e : entries) {
        uint32_t crc = uint32_t(crc32(0L, e.data.data(), uInt(e.data.size())));
        std::vector<uint8_t> packed = deflate ? deflate_raw(e.data) : std::vector<uint8_t>();
        const std::vector<uint8_t>& payload = deflate ? packed : e.data;
        if (e.data.size() >= 0xffffffffu || out.size() >= 0xffffffffu)
            throw IoError("write_zip: member '" + e.name + "' exceeds 4 GiB (zip64 not supported)");
        uint64_t loff = out.size();
        auto header = [&](std::vector<uint8_t>& v, bool central) {
            put_le(v, central ? 0x02014b50 : 0x04034b50, 4);
            if (central) put_le(v, 20, 2);  // version made by
            put_le(v, 20, 2);               // version needed
            put_le(v, 0, 2);                // flags
            put_le(v, deflate ? 8 : 0, 2);
            put_le(v, 0, 2);       // mod time
            put_le(v, 0x21, 2);    // mod date: 1980-01-01
            put_le(v, crc, 4);
            put_le(v, payload.size(), 4);
            put_le(v, e.data.size(), 4);
            put_le(v, e.name.size(), 2);
            put_le(v, 0, 2);  // extra
            if (central) {
                put_le(v, 0, 2);  // comment
                put_le(v, 0, 2);  // disk
                put_le(v, 0, 2);  // internal attrs
                put_le(v, 0x01800000u, 4);  // external attrs: -rw-------
                put_le(v, loff, 4);
            }
            v.insert(v.end(), e.name.begin(), e.name.end());
        };
        header(out, false);
        out.insert(out.end(), payload.begin(), payload.end());
        header(cd, true);
    }
    uint64_t cd_off = out.size();
    out.insert(out.end(), cd.begin(), cd.end());
    put_le(out, 0x06054b50, 4);
    put_le(out, 0, 2);
    put_le(out, 0, 2);
    put_le(out, entries.size(), 2);
    put_le(out, entries.size(), 2);
    put_le(out, cd.size(), 4);
    put_le(out, cd_off, 4);
    put_le(out, 0, 2);
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

// ---------------------------------------------------------------------------------------------
// Pickle: a strict subset VM for numpy object arrays of dicts.
namespace {

// Objects live in an arena owned by the Unpickler (a deque, so addresses are stable) and refer to
// each other by raw pointer: destruction is flat, so deeply nested or cyclic streams (which a
// hostile file can build with memo GET + APPEND) can neither overflow the stack nor leak.
struct PyObj;
using PyRef = PyObj*;

struct PyObj {
    enum Kind { kNone, kBool, kInt, kFloat, kBytes, kStr, kTuple, kList, kDict, kGlobal, kArray, kDtype, kMark, kStorage, kTensor };
    Kind kind = kNone;
    bool b = false;
    int64_t i = 0;
    double f = 0;
    std::string s;              // bytes, str, global name, dtype descr
    std::vector<PyRef> items;   // tuple/list; dict as key,value,key,value...
    // array
    std::vector<int64_t> shape;
    PyRef dtype;
    bool fortran = false;
    PyRef payload;  // bytes or list
    bool built = false;
    char byteorder = '|';
    // torch storage (s = record key, storage_type = e.g. "torch.FloatStorage", i = numel) and
    // tensor (storage, i = storage offset, shape, stride)
    std::string storage_type;
    std::vector<int64_t> stride;
    PyRef storage = nullptr;
};


class Unpickler {
public:
    /// kNumpy: pickled numpy dicts (np.save of a dict). kTorch: torch.save archives' data.pkl
    /// (adds OrderedDict, tensor rebuilds and storages by persistent id).
    enum class Mode { kNumpy, kTorch, kJoblib };
    Unpickler(const uint8_t* b, size_t n, const std::string& what, Mode mode = Mode::kNumpy)
        : b_(b), n_(n), what_(what), mode_(mode) {}

    PyRef make(PyObj::Kind k) {
        arena_.emplace_back();
        arena_.back().kind = k;
        return &arena_.back();
    }

    PyRef run() {
        while (true) {
            uint8_t op = u8();
            switch (op) {
                case 0x80: u8(); break;  // PROTO
                case 0x95: take(8); break;  // FRAME
                case '.': {  // STOP
                    if (stack_.size() != 1) bad("unbalanced stack at STOP");
                    return stack_.back();
                }
                case 'c': {  // GLOBAL "module\nname\n"
                    std::string mod = line(), name = line();
                    push_global(mod + "." + name);
                    break;
                }
                case 0x93: {  // STACK_GLOBAL
                    PyRef name = pop(), mod = pop();
                    if (name->kind != PyObj::kStr || mod->kind != PyObj::kStr) bad("bad STACK_GLOBAL");
                    push_global(mod->s + "." + name->s);
                    break;
                }
                case 'q': memo_put(u8()); break;         // BINPUT
                case 'r': memo_put(uint32_t(le(4))); break;  // LONG_BINPUT
                case 0x94: memo_put(memo_.size()); break;    // MEMOIZE
                case 'h': memo_get(u8()); break;         // BINGET
                case 'j': memo_get(uint32_t(le(4))); break;  // LONG_BINGET
                case 'K': push_int(u8()); break;         // BININT1
                case 'M': push_int(le(2)); break;        // BININT2
                case 'J': push_int(int32_t(uint32_t(le(4)))); break;  // BININT
                case 0x8a: {  // LONG1
                    size_t k = u8();
                    if (k > 8) bad("integer too large");
                    const uint8_t* p = take(k);
                    uint64_t v = read_le(p, int(k));
                    int64_t sv = k == 0 ? 0 : (k == 8 ? int64_t(v) : (int64_t(v << (64 - 8 * k)) >> (64 - 8 * k)));
                    push_int(sv);
                    break;
                }
                case 'G': {  // BINFLOAT (big-endian)
                    const uint8_t* p = take(8);
                    uint64_t v = 0;
                    for (int k = 0; k < 8; ++k) v = (v << 8) | p[k];
                    auto o = make(PyObj::kFloat);
                    std::memcpy(&o->f, &v, 8);
                    stack_.push_back(o);
                    break;
                }
                case 'N': stack_.push_back(make(PyObj::kNone)); break;
                case 0x88: push_bool(true); break;
                case 0x89: push_bool(false); break;
                case 'C': push_bytes(PyObj::kBytes, u8()); break;          // SHORT_BINBYTES
                case 'B': push_bytes(PyObj::kBytes, le(4)); break;         // BINBYTES
                case 0x8e: push_bytes(PyObj::kBytes, le(8)); break;        // BINBYTES8
                case 'U': push_bytes(PyObj::kStr, u8()); break;            // SHORT_BINSTRING
                case 'T': push_bytes(PyObj::kStr, le(4)); break;           // BINSTRING
                case 0x8c: push_bytes(PyObj::kStr, u8()); break;           // SHORT_BINUNICODE
                case 'X': push_bytes(PyObj::kStr, le(4)); break;           // BINUNICODE
                case 0x8d: push_bytes(PyObj::kStr, le(8)); break;          // BINUNICODE8
                case '(': stack_.push_back(make(PyObj::kMark)); break;
                case ')': stack_.push_back(make(PyObj::kTuple)); break;
                case 0x85: tuple_n(1); break;
                case 0x86: tuple_n(2); break;
                case 0x87: tuple_n(3); break;
                case 't': {
                    auto items = pop_mark();
                    auto t = make(PyObj::kTuple);
                    t->items = std::move(items);
                    stack_.push_back(t);
                    break;
                }
                case ']': stack_.push_back(make(PyObj::kList)); break;
                case '}': stack_.push_back(make(PyObj::kDict)); break;
                case 'a': {  // APPEND
                    PyRef v = pop();
                    PyRef l = top();
                    if (l->kind != PyObj::kList) bad("APPEND to a non-list");
                    l->items.push_back(v);
                    break;
                }
                case 'e': {  // APPENDS
                    auto items = pop_mark();
                    PyRef l = top();
                    if (l->kind != PyObj::kList) bad("APPENDS to a non-list");
                    l->items.insert(l->items.end(), items.begin(), items.end());
                    break;
                }
                case 's': {  // SETITEM
                    PyRef v = pop(), k = pop();
                    PyRef d = top();
                    if (d->kind != PyObj::kDict) bad("SETITEM on a non-dict");
                    d->items.push_back(k);
                    d->items.push_back(v);
                    break;
                }
                case 'u': {  // SETITEMS
                    auto items = pop_mark();
                    if (items.size() % 2) bad("odd SETITEMS");
                    PyRef d = top();
                    if (d->kind != PyObj::kDict) bad("SETITEMS on a non-dict");
                    d->items.insert(d->items.end(), items.begin(), items.end());
                    break;
                }
                case 'R': reduce(); break;
                case 'b': build(); break;
                case 'Q': persistent_load(); break;  // BINPERSID
                case 0x81: newobj(); break;          // NEWOBJ
                default: {
                    char hex[8];
                    std::snprintf(hex, sizeof hex, "0x%02x", op);
                    bad(std::string("unsupported pickle opcode ") + hex);
                }
            }
            if (stack_.size() > 100000) bad("pickle stack too deep");
        }
    }

private:
    [[noreturn]] void bad(const std::string& msg) {
        fail(what_, std::string(mode_ == Mode::kTorch    ? "invalid torch.save archive: "
                                : mode_ == Mode::kJoblib ? "invalid joblib normalizer file: "
                                                         : "invalid pickled MASH dict: ") +
                           msg);
    }
    uint8_t u8() {
        if (p_ >= n_) bad("truncated pickle stream");
        return b_[p_++];
    }
    const uint8_t* take(uint64_t k) {
        if (k > n_ - p_) bad("truncated pickle stream");
        const uint8_t* r = b_ + p_;
        p_ += k;
        return r;
    }
    uint64_t le(int k) { return read_le(take(k), k); }
    std::string line() {
        size_t s = p_;
        while (p_ < n_ && b_[p_] != '\n') ++p_;
        if (p_ >= n_) bad("truncated GLOBAL");
        std::string r(reinterpret_cast<const char*>(b_ + s), p_ - s);
        ++p_;
        return r;
    }
    PyRef pop() {
        if (stack_.empty() || stack_.back()->kind == PyObj::kMark) bad("stack underflow");
        PyRef r = stack_.back();
        stack_.pop_back();
        return r;
    }
    PyRef top() {
        if (stack_.empty()) bad("stack underflow");
        return stack_.back();
    }
    std::vector<PyRef> pop_mark() {
        std::vector<PyRef> items;
        while (true) {
            if (stack_.empty()) bad("missing MARK");
            PyRef r = stack_.back();
            stack_.pop_back();
            if (r->kind == PyObj::kMark) break;
            items.push_back(r);
        }
        std::reverse(items.begin(), items.end());
        return items;
    }
    void tuple_n(int k) {
        auto t = make(PyObj::kTuple);
        t->items.resize(k);
        for (int j = k - 1; j >= 0; --j) t->items[j] = pop();
        stack_.push_back(t);
    }
    void push_int(int64_t v) {
        auto o = make(PyObj::kInt);
        o->i = v;
        stack_.push_back(o);
    }
    void push_bool(bool v) {
        auto o = make(PyObj::kBool);
        o->b = v;
        stack_.push_back(o);
    }
    void push_bytes(PyObj::Kind k, uint64_t len) {
        const uint8_t* p = take(len);
        auto o = make(k);
        o->s.assign(reinterpret_cast<const char*>(p), len);
        stack_.push_back(o);
    }
    void push_global(const std::string& name) {
        static const char* allowed[] = {
            "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
            "numpy.ndarray", "numpy.dtype", "_codecs.encode",
            "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar"};
        static const char* allowed_torch[] = {
            "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch.FloatStorage", "torch.DoubleStorage",
            "torch.HalfStorage", "torch.BFloat16Storage", "torch.LongStorage", "torch.IntStorage",
            "torch.ShortStorage", "torch.CharStorage", "torch.ByteStorage", "torch.BoolStorage"};
        static const char* allowed_joblib[] = {
            "joblib.numpy_pickle.NumpyArrayWrapper",
            "distribution_manage.Module.multi_linear_transformer.MultiLinearTransformer",
            "distribution_manage.Module.linear_function.LinearFunction"};
        bool ok = std::any_of(std::begin(allowed), std::end(allowed), [&](const char* a) { return name == a; });
        if (!ok && mode_ == Mode::kTorch)
            ok = std::any_of(std::begin(allowed_torch), std::end(allowed_torch), [&](const char* a) { return name == a; });
        if (!ok && mode_ == Mode::kJoblib)
            ok = std::any_of(std::begin(allowed_joblib), std::end(allowed_joblib), [&](const char* a) { return name == a; });
        if (ok) {
            auto o = make(PyObj::kGlobal);
            o->s = name;
            stack_.push_back(o);
            return;
        }
        bad("refuses to load global '" + name + (mode_ == Mode::kTorch
                ? "' (only tensors, storages, OrderedDict and numpy scalars are allowed)"
                : mode_ == Mode::kJoblib ? "' (only numpy arrays and the original's MultiLinearTransformer objects are allowed)"
                                         : "' (only numpy arrays, dtypes and bools are allowed)"));
    }
    void memo_put(uint64_t k) {
        if (k > 1000000) bad("memo index too large");
        if (memo_.size() <= k) memo_.resize(k + 1);
        memo_[k] = top();
    }
    void memo_get(uint64_t k) {
        if (k >= memo_.size() || !memo_[k]) bad("memo index out of range");
        stack_.push_back(memo_[k]);
    }
    static bool ends_with(const std::string& s, const std::string& t) {
        return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
    }
    void reduce() {
        PyRef args = pop(), fn = pop();
        if (fn->kind != PyObj::kGlobal || args->kind != PyObj::kTuple) bad("bad REDUCE");
        if (ends_with(fn->s, "._reconstruct")) {
            auto a = make(PyObj::kArray);
            stack_.push_back(a);
        } else if (fn->s == "numpy.dtype") {
            if (args->items.empty() || args->items[0]->kind != PyObj::kStr) bad("bad dtype");
            auto d = make(PyObj::kDtype);
            d->s = args->items[0]->s;
            stack_.push_back(d);
        } else if (fn->s == "_codecs.encode") {
            // Protocol-2 bytes: _codecs.encode(str, 'latin1'); our str holds UTF-8 of latin1 chars.
            if (args->items.size() != 2 || args->items[0]->kind != PyObj::kStr) bad("bad _codecs.encode");
            const std::string& u = args->items[0]->s;
            auto o = make(PyObj::kBytes);
            for (size_t k = 0; k < u.size(); ++k) {
                unsigned char c = u[k];
                if (c < 0x80) o->s.push_back(char(c));
                else if ((c & 0xe0) == 0xc0 && k + 1 < u.size()) {
                    o->s.push_back(char(((c & 0x1f) << 6) | (u[k + 1] & 0x3f)));
                    ++k;
                } else bad("bad latin1 payload");
            }
            stack_.push_back(o);
        } else if (ends_with(fn->s, ".scalar")) {
            // numpy scalar: scalar(dtype, bytes) -> 0-d array.
            if (args->items.size() != 2 || args->items[0]->kind != PyObj::kDtype ||
                args->items[1]->kind != PyObj::kBytes)
                bad("bad numpy scalar");
            auto a = make(PyObj::kArray);
            a->dtype = args->items[0];
            a->payload = args->items[1];
            a->built = true;
            stack_.push_back(a);
        } else if (fn->s == "collections.OrderedDict") {
            if (!args->items.empty()) bad("OrderedDict with arguments");
            stack_.push_back(make(PyObj::kDict));
        } else if (fn->s == "torch._utils._rebuild_tensor_v2") {
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
            auto& it = args->items;
            if (it.size() < 6 || it[0]->kind != PyObj::kStorage || it[1]->kind != PyObj::kInt ||
                it[2]->kind != PyObj::kTuple || it[3]->kind != PyObj::kTuple || it[2]->items.size() != it[3]->items.size())
                bad("bad tensor rebuild arguments");
            auto t = make(PyObj::kTensor);
            t->storage = it[0];
            t->i = it[1]->i;
            for (size_t d = 0; d < it[2]->items.size(); ++d) {
                if (it[2]->items[d]->kind != PyObj::kInt || it[3]->items[d]->kind != PyObj::kInt) bad("bad tensor shape");
                t->shape.push_back(it[2]->items[d]->i);
                t->stride.push_back(it[3]->items[d]->i);
            }
            t->built = true;
            stack_.push_back(t);
        } else {
            bad("unexpected callable " + fn->s);
        }
    }
    /// NEWOBJ of an allowed class: joblib's array wrapper (its array follows in the stream after
    /// BUILD) or a plain object whose attributes (BUILD state) are kept as a dict.
    void newobj() {
        if (mode_ != Mode::kJoblib) bad("unsupported pickle opcode 0x81 (NEWOBJ)");
        PyRef args = pop(), cls = pop();
        if (cls->kind != PyObj::kGlobal || args->kind != PyObj::kTuple || !args->items.empty()) bad("bad NEWOBJ");
        auto o = make(cls->s == "joblib.numpy_pickle.NumpyArrayWrapper" ? PyObj::kArray : PyObj::kDict);
        o->s = cls->s;
        stack_.push_back(o);
    }
    static PyRef attr(const PyRef& dict, const std::string& key) {
        for (size_t k = 0; k + 1 < dict->items.size(); k += 2)
            if (dict->items[k]->kind == PyObj::kStr && dict->items[k]->s == key) return dict->items[k + 1];
        return nullptr;
    }
    /// joblib's NumpyArrayWrapper: shape, order, dtype in the state; then [1 byte padding length,
    /// padding] when numpy_array_alignment_bytes is set, then the raw array bytes.
    void build_joblib_array(PyRef obj, PyRef state) {
        if (state->kind != PyObj::kDict) bad("bad NumpyArrayWrapper state");
        PyRef shape = attr(state, "shape"), order = attr(state, "order"), dtype = attr(state, "dtype"),
              align = attr(state, "numpy_array_alignment_bytes");
        if (!shape || shape->kind != PyObj::kTuple || !order || order->kind != PyObj::kStr || !dtype ||
            dtype->kind != PyObj::kDtype)
            bad("bad NumpyArrayWrapper state");
        for (auto& d : shape->items) {
            if (d->kind != PyObj::kInt || d->i < 0) bad("bad array shape");
            obj->shape.push_back(d->i);
        }
        char kind;
        int itemsize;
        bool big;
        std::string bo(1, dtype->byteorder);
        parse_descr(bo == "|" || bo == "=" ? dtype->s : bo + dtype->s, what_, &kind, &itemsize, &big);
        const int64_t n = checked_numel(obj->shape, what_);
        if (align && align->kind == PyObj::kInt) take(u8());  // padding
        auto payload = make(PyObj::kBytes);
        const uint8_t* p = take(uint64_t(n) * uint64_t(itemsize));
        payload->s.assign(reinterpret_cast<const char*>(p), size_t(n) * itemsize);
        obj->dtype = dtype;
        obj->fortran = order->s == "F";
        obj->payload = payload;
        obj->built = true;
    }
    void persistent_load() {
        if (mode_ != Mode::kTorch) bad("unsupported pickle opcode 0x51 (persistent id)");
        PyRef pid = pop();
        // ('storage', <torch.XStorage>, key, location, numel)
        if (pid->kind != PyObj::kTuple || pid->items.size() != 5 || pid->items[0]->kind != PyObj::kStr ||
            pid->items[0]->s != "storage" || pid->items[1]->kind != PyObj::kGlobal || pid->items[2]->kind != PyObj::kStr ||
            pid->items[4]->kind != PyObj::kInt || pid->items[4]->i < 0)
            bad("bad persistent id (expected a storage)");
        auto st = make(PyObj::kStorage);
        st->storage_type = pid->items[1]->s;
        st->s = pid->items[2]->s;
        st->i = pid->items[4]->i;
        stack_.push_back(st);
    }
    void build() {
        PyRef state = pop();
        PyRef obj = top();
        if (obj->kind == PyObj::kArray && mode_ == Mode::kJoblib && !obj->built) {
            build_joblib_array(obj, state);
        } else if (obj->kind == PyObj::kDtype) {
            if (state->kind != PyObj::kTuple || state->items.size() < 2 || state->items[1]->kind != PyObj::kStr ||
                state->items[1]->s.size() != 1)
                bad("bad dtype state");
            obj->byteorder = state->items[1]->s[0];
        } else if (obj->kind == PyObj::kArray) {
            if (state->kind != PyObj::kTuple || state->items.size() != 5) bad("bad array state");
            auto& it = state->items;
            if (it[1]->kind != PyObj::kTuple || it[2]->kind != PyObj::kDtype || it[3]->kind != PyObj::kBool)
                bad("bad array state");
            for (auto& d : it[1]->items) {
                if (d->kind != PyObj::kInt || d->i < 0) bad("bad array shape");
                obj->shape.push_back(d->i);
            }
            obj->dtype = it[2];
            obj->fortran = it[3]->b;
            obj->payload = it[4];
            obj->built = true;
        } else if (obj->kind == PyObj::kDict && mode_ == Mode::kTorch) {
            // OrderedDict attributes (a state_dict's _metadata): not needed.

        } else if (obj->kind == PyObj::kDict && mode_ == Mode::kJoblib) {
            if (state->kind != PyObj::kDict) bad("bad object state");
            obj->items.insert(obj->items.end(), state->items.begin(), state->items.end());
        } else {
            bad("BUILD on an unexpected object");
        }
    }

    const uint8_t* b_;
    size_t n_;
    size_t p_ = 0;
    std::string what_;
    std::vector<PyRef> stack_;
    std::vector<PyRef> memo_;
    std::deque<PyObj> arena_;
    Mode mode_;
};

NpyArray to_npy_array(const PyRef& a, const std::string& what, const std::string& key) {
    const std::string ctx = what + " (key '" + key + "')";
    if (!a->built || !a->dtype || !a->payload || a->payload->kind != PyObj::kBytes)
        fail(ctx, "expected a numeric numpy array");
    NpyArray out;
    bool big = false;
    std::string descr = a->dtype->s;
    std::string bo(1, a->dtype->byteorder);
    parse_descr(bo == "|" || bo == "=" ? descr : bo + descr, ctx, &out.kind, &out.itemsize, &big);
    out.shape = a->shape;
    int64_t n = checked_numel(out.shape, ctx);
    if (a->payload->s.size() != uint64_t(n) * out.itemsize)
        fail(ctx, "array data size does not match its shape (corrupt file)");
    out.data.assign(a->payload->s.begin(), a->payload->s.end());
    if (big) byteswap_inplace(out.data, out.itemsize);
    if (a->fortran && out.shape.size() > 1) out.data = fortran_to_c(out.data, out.shape, out.itemsize);
    return out;
}

}  // namespace

PickledDict parse_pickled_dict_npy(const uint8_t* bytes, size_t size, const std::string& what) {
    size_t offset = 0;
    NpyHeader h = parse_header_dict(npy_header(bytes, size, what, &offset), what);
    if (h.descr != "|O" && h.descr != "O")
        fail(what, "expected a pickled dict (.npy of dtype object), found a plain array of dtype " + h.descr);
    Unpickler up(bytes + offset, size - offset, what);
    PyRef root = up.run();
    PyRef dict;
    if (root->kind == PyObj::kDict) {
        dict = root;
    } else if (root->kind == PyObj::kArray && root->payload && root->payload->kind == PyObj::kList &&
               root->payload->items.size() == 1 && root->payload->items[0]->kind == PyObj::kDict) {
        dict = root->payload->items[0];
    } else {
        fail(what, "pickled object is not a dict wrapped in a 0-d object array");
    }
    PickledDict out;
    for (size_t k = 0; k + 1 < dict->items.size(); k += 2) {
        const PyRef& key = dict->items[k];
        const PyRef& val = dict->items[k + 1];
        if (key->kind != PyObj::kStr) fail(what, "dict key is not a string");
        PickledValue v;
        if (val->kind == PyObj::kBool) {
            v.is_bool = true;
            v.bool_value = val->b;
        } else if (val->kind == PyObj::kArray) {
            v.array = to_npy_array(val, what, key->s);
            if (v.array.kind == 'b' && v.array.numel() == 1 && v.array.shape.empty()) {
                v.is_bool = true;
                v.bool_value = v.array.data[0] != 0;
            }
        } else {
            fail(what, "value of key '" + key->s + "' is neither an array nor a bool");
        }
        out.emplace_back(key->s, std::move(v));
    }
    return out;
}

namespace {

/// Element type of a torch storage class: kind/itemsize of our NpyArray (half and bfloat16 are
/// widened to float32 when the tensor is materialized).
void storage_dtype(const std::string& type, const std::string& what, char* kind, int* itemsize, int* src_size) {
    static const struct { const char* name; char kind; int size; int src; } table[] = {
        {"torch.FloatStorage", 'f', 4, 4}, {"torch.DoubleStorage", 'f', 8, 8}, {"torch.HalfStorage", 'f', 4, 2},
        {"torch.BFloat16Storage", 'f', 4, 2}, {"torch.LongStorage", 'i', 8, 8}, {"torch.IntStorage", 'i', 4, 4},
        {"torch.ShortStorage", 'i', 2, 2}, {"torch.CharStorage", 'i', 1, 1}, {"torch.ByteStorage", 'u', 1, 1},
        {"torch.BoolStorage", 'b', 1, 1}};
    for (const auto& e : table)
        if (type == e.name) {
            *kind = e.kind;
            *itemsize = e.size;
            *src_size = e.src;
            return;
        }
    fail(what, "unsupported storage type " + type);
}

float half_to_float(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {  // subnormal
            int e = -1;
            uint32_t m = man;
            do { ++e; m <<= 1; } while (!(m & 0x400));
            bits = sign | uint32_t(127 - 15 - e) << 23 | (m & 0x3ff) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | man << 13;
    } else {
        bits = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

NpyArray materialize_tensor(const PyRef& t, const std::map<std::string, const ZipEntry*>& records,
                            const std::string& what, const std::string& key) {
    const std::string ctx = what + " (tensor '" + key + "')";
    NpyArray out;
    int src_size = 0;
    storage_dtype(t->storage->storage_type, ctx, &out.kind, &out.itemsize, &src_size);
    auto rec = records.find(t->storage->s);
    if (rec == records.end()) fail(ctx, "storage record data/" + t->storage->s + " is missing");
    const auto& bytes = rec->second->data;
    const int64_t storage_numel = t->storage->i;
    if (uint64_t(storage_numel) > bytes.size() / uint64_t(src_size))
        fail(ctx, "storage record data/" + t->storage->s + " is shorter than its " + std::to_string(storage_numel) + " elements");
    out.shape = t->shape;
    const int64_t n = checked_numel(out.shape, ctx);
    // Bounds of the strided view inside the storage.
    int64_t lo = t->i, hi = t->i;
    if (t->i < 0) fail(ctx, "negative storage offset");
    for (size_t d = 0; d < t->shape.size(); ++d) {
        if (t->shape[d] == 0) { lo = hi = t->i; break; }
        const int64_t st = t->stride[d];
        if (st < -kMaxElements || st > kMaxElements) fail(ctx, "stride out of range");
        (st >= 0 ? hi : lo) += st * (t->shape[d] - 1);
    }
    if (n > 0 && (lo < 0 || hi >= storage_numel)) fail(ctx, "tensor view exceeds its storage (corrupt file)");
    out.data.resize(size_t(n) * out.itemsize);
    std::vector<int64_t> idx(t->shape.size(), 0);
    for (int64_t e = 0; e < n; ++e) {
        int64_t off = t->i;
        for (size_t d = 0; d < idx.size(); ++d) off += idx[d] * t->stride[d];
        const uint8_t* src = bytes.data() + size_t(off) * src_size;
        uint8_t* dst = out.data.data() + size_t(e) * out.itemsize;
        if (t->storage->storage_type == "torch.HalfStorage") {
            const float f = half_to_float(uint16_t(src[0] | src[1] << 8));
            std::memcpy(dst, &f, 4);
        } else if (t->storage->storage_type == "torch.BFloat16Storage") {
            const uint32_t bits = uint32_t(src[0] | src[1] << 8) << 16;
            std::memcpy(dst, &bits, 4);
        } else {
            std::memcpy(dst, src, out.itemsize);
        }
        for (int64_t d = int64_t(idx.size()) - 1; d >= 0; --d) {
            if (++idx[d] < t->shape[d]) break;
            idx[d] = 0;
        }
    }
    return out;
}

}  // namespace

TorchArchive parse_torch_archive(const uint8_t* bytes, size_t size, const std::string& what) {
    auto entries = read_zip(bytes, size, what);
    const ZipEntry* pkl = nullptr;
    std::string prefix;
    for (const auto& e : entries) {
        const auto slash = e.name.find('/');
        if (slash != std::string::npos && e.name.compare(slash, std::string::npos, "/data.pkl") == 0) {
            if (pkl) fail(what, "invalid torch.save archive: more than one data.pkl");
            pkl = &e;
            prefix = e.name.substr(0, slash + 1);
        }
    }
    if (!pkl) fail(what, "not a torch.save archive (no <folder>/data.pkl in the zip)");
    std::map<std::string, const ZipEntry*> records;
    for (const auto& e : entries)
        if (e.name.rfind(prefix + "data/", 0) == 0) records[e.name.substr(prefix.size() + 5)] = &e;
    Unpickler up(pkl->data.data(), pkl->data.size(), what, Unpickler::Mode::kTorch);
    PyRef root = up.run();
    if (root->kind != PyObj::kDict) fail(what, "invalid torch.save archive: the top-level object is not a dict");
    TorchArchive out;
    for (size_t k = 0; k + 1 < root->items.size(); k += 2) {
        const PyRef key = root->items[k], val = root->items[k + 1];
        if (key->kind != PyObj::kStr) fail(what, "invalid torch.save archive: a top-level key is not a string");
        TorchArchive::Value v;
        switch (val->kind) {
            case PyObj::kInt: v.kind = TorchArchive::Value::kNumber; v.number = double(val->i); break;
            case PyObj::kFloat: v.kind = TorchArchive::Value::kNumber; v.number = val->f; break;
            case PyObj::kBool: v.kind = TorchArchive::Value::kNumber; v.number = val->b ? 1 : 0; break;
            case PyObj::kNone: v.kind = TorchArchive::Value::kNone; break;
            case PyObj::kArray: {
                NpyArray a = to_npy_array(val, what, key->s);
                if (a.numel() != 1) { v.kind = TorchArchive::Value::kOther; break; }
                v.kind = TorchArchive::Value::kNumber;
                v.number = a.to_double()[0];
                break;
            }
            case PyObj::kTensor:
                v.kind = TorchArchive::Value::kTensor;
                v.tensor = materialize_tensor(val, records, what, key->s);
                break;
            case PyObj::kDict: {
                bool tensors = true;
                for (size_t j = 0; j + 1 < val->items.size(); j += 2)
                    tensors = tensors && val->items[j]->kind == PyObj::kStr && val->items[j + 1]->kind == PyObj::kTensor;
                if (!tensors) { v.kind = TorchArchive::Value::kOther; break; }
                v.kind = TorchArchive::Value::kStateDict;
                for (size_t j = 0; j + 1 < val->items.size(); j += 2)
                    v.state_dict.emplace_back(val->items[j]->s,
                                              materialize_tensor(val->items[j + 1], records, what, key->s + "." + val->items[j]->s));
                break;
            }
            default: v.kind = TorchArchive::Value::kOther;
        }
        out.entries.emplace_back(key->s, std::move(v));
    }
    return out;
}

std::vector<MultiLinearColumn> parse_joblib_multi_linear(const uint8_t* bytes, size_t size, const std::string& what) {
    Unpickler up(bytes, size, what, Unpickler::Mode::kJoblib);
    PyRef root = up.run();
    if (root->kind != PyObj::kDict)
        fail(what, "not an original normalizer file (expected a joblib dict {'0': MultiLinearTransformer, ...})");
    std::vector<MultiLinearColumn> out(root->items.size() / 2);
    std::vector<bool> seen(out.size(), false);
    for (size_t k = 0; k + 1 < root->items.size(); k += 2) {
        const PyRef key = root->items[k], obj = root->items[k + 1];
        char* end = nullptr;
        const long col = key->kind == PyObj::kStr ? std::strtol(key->s.c_str(), &end, 10) : -1;
        if (key->kind != PyObj::kStr || key->s.empty() || *end != '\0' || col < 0 || size_t(col) >= out.size() || seen[col])
            fail(what, "not an original normalizer file (keys must be '0'..'" + std::to_string(out.size() - 1) + "')");
        if (obj->kind != PyObj::kDict || obj->s != "distribution_manage.Module.multi_linear_transformer.MultiLinearTransformer")
            fail(what, "column " + key->s + " is not a MultiLinearTransformer");
        seen[col] = true;
        for (const char* name : {"source_values", "target_values"}) {
            PyRef a = nullptr;
            for (size_t j = 0; j + 1 < obj->items.size(); j += 2)
                if (obj->items[j]->kind == PyObj::kStr && obj->items[j]->s == name) a = obj->items[j + 1];
            if (!a || a->kind != PyObj::kArray) fail(what, "column " + key->s + ": no " + name + " array");
            NpyArray arr = to_npy_array(a, what, key->s + "." + name);
            if (arr.shape.size() != 1) fail(what, "column " + key->s + ": " + name + " is not a vector");
            (std::string(name) == "source_values" ? out[col].source : out[col].target) = arr.to_double();
        }
    }
    return out;
}

namespace {
struct PickleWriter {
    std::vector<uint8_t> out;
    void op(uint8_t c) { out.push_back(c); }
    void global(const std::string& mod, const std::string& name) {
        op('c');
        out.insert(out.end(), mod.begin(), mod.end());
        op('\n');
        out.insert(out.end(), name.begin(), name.end());
        op('\n');
    }
    void integer(int64_t v) {
        if (v >= 0 && v < 256) { op('K'); op(uint8_t(v)); }
        else if (v >= 0 && v < 65536) { op('M'); put_le(out, uint64_t(v), 2); }
        else if (v >= INT32_MIN && v <= INT32_MAX) { op('J'); put_le(out, uint32_t(int32_t(v)), 4); }
        else { op(0x8a); op(8); put_le(out, uint64_t(v), 8); }
    }
    void unicode(const std::string& s) { op('X'); put_le(out, s.size(), 4); out.insert(out.end(), s.begin(), s.end()); }
    void bytes(const std::vector<uint8_t>& b) {
        if (b.size() < 256) { op('C'); op(uint8_t(b.size())); }
        else { op('B'); put_le(out, b.size(), 4); }
        out.insert(out.end(), b.begin(), b.end());
    }
    void shape_tuple(const std::vector<int64_t>& shape) {
        op('(');
        for (auto d : shape) integer(d);
        op('t');
    }
    void dtype(const std::string& descr_no_order, char order, int flags = 0) {
        global("numpy", "dtype");
        unicode(descr_no_order);
        op(0x89);
        op(0x88);
        op(0x87);
        op('R');
        op('(');
        integer(3);
        unicode(std::string(1, order));
        op('N'); op('N'); op('N');
        integer(-1); integer(-1); integer(flags);
        op('t');
        op('b');
    }
    void reconstruct_prefix() {
        global("numpy.core.multiarray", "_reconstruct");
        global("numpy", "ndarray");
        integer(0);
        op(0x85);
        bytes({'b'});
        op(0x87);
        op('R');
    }
    void array(const NpyArray& a) {
        reconstruct_prefix();
        op('(');
        integer(1);
        shape_tuple(a.shape);
        dtype(std::string(1, a.kind) + std::to_string(a.itemsize), a.itemsize == 1 ? '|' : '<');
        op(0x89);
        bytes(a.data);
        op('t');
        op('b');
    }
};
}  // namespace

std::vector<uint8_t> serialize_pickled_dict_npy(const PickledDict& dict) {
    PickleWriter w;
    w.op(0x80);
    w.op(3);
    w.reconstruct_prefix();
    w.op('(');
    w.integer(1);
    w.op(')');
    w.dtype("O8", '|', 63);  // NPY_OBJECT's item flags
    w.op(0x89);
    w.op(']');
    w.op('}');
    w.op('(');
    for (const auto& [key, v] : dict) {
        w.unicode(key);
        if (v.is_bool) w.op(v.bool_value ? 0x88 : 0x89);
        else w.array(v.array);
    }
    w.op('u');
    w.op('a');
    w.op('t');
    w.op('b');
    w.op('.');
    auto out = npy_preamble("|O", {});
    out.insert(out.end(), w.out.begin(), w.out.end());
    return out;
}

// ---------------------------------------------------------------------------------------------
std::vector<uint8_t> read_file(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw IoError(path + ": no such file");
    if (std::filesystem::is_directory(path, ec)) throw IoError(path + ": is a directory, expected a file");
    std::ifstream f(path, std::ios::binary);
    if (!f) throw IoError(path + ": cannot open for reading");
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (f.bad()) throw IoError(path + ": read error");
    return bytes;
}

void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes) {
    write_atomically(path, "file (disk full?)", [&](const std::string& tmp) {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
        f.flush();
        return bool(f);
    });
}

void write_atomically(const std::string& path, const std::string& what,
                      const std::function<bool(const std::string&)>& writer) {
    namespace fs = std::filesystem;
    fs::path target(path), dir = target.parent_path();
    if (!dir.empty() && !fs::exists(dir)) throw IoError(path + ": directory " + dir.string() + " does not exist");
    fs::path tmp = dir / (".tmp" + std::to_string(::getpid()) + "-" + target.filename().string());
    bool ok = false;
    try {
        ok = writer(tmp.string());
    } catch (...) {
        fs::remove(tmp);
        throw;
    }
    std::error_code ec;
    if (ok) fs::rename(tmp, target, ec);
    if (!ok || ec) {
        fs::remove(tmp);
        throw IoError(path + ": cannot write " + what + (ec ? " (" + ec.message() + ")" : ""));
    }
}

std::string lower_extension(const std::string& path) {
    std::string e = std::filesystem::path(path).extension().string();
    for (auto& c : e) c = char(std::tolower(static_cast<unsigned char>(c)));
    return e;
}

}  // namespace mash::io
