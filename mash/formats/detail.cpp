// SPDX-License-Identifier: MIT
#include "mash/formats/detail.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <sstream>

#include "mash/core/errors.h"
#include "mash/formats/npy.h"

namespace mash::formats::detail {

[[noreturn]] void fail(const std::string& what, const std::string& msg) { throw IoError(what + ": " + msg); }

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
        case 'f':
            return itemsize == 4 || itemsize == 8;
        case 'i':
        case 'u':
            return itemsize == 1 || itemsize == 2 || itemsize == 4 || itemsize == 8;
        case 'b':
            return itemsize == 1;
        default:
            return false;
    }
}

/// Parses a numpy descr ("<f8", "|b1", ">i4", "f8") into kind/itemsize/byte order.
void parse_descr(const std::string& d, const std::string& what, char* kind, int* itemsize, bool* big_endian) {
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
        fail(what, "unsupported dtype '" + d + "' (expected bool, int8..int64, uint8..uint64, float32 or float64)");
    if (*itemsize == 1) *big_endian = false;
}

void byteswap_inplace(std::vector<uint8_t>& data, int itemsize) {
    for (size_t i = 0; i + itemsize <= data.size(); i += itemsize) std::reverse(data.begin() + i, data.begin() + i + itemsize);
}

/// Converts Fortran-order data to C order.
std::vector<uint8_t> fortran_to_c(const std::vector<uint8_t>& src, const std::vector<int64_t>& shape, int itemsize) {
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
        if (s.compare(i, 4, "True") == 0) {
            i += 4;
            return true;
        }
        if (s.compare(i, 5, "False") == 0) {
            i += 5;
            return false;
        }
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
            if (peek(','))
                ++i;
            else if (!peek(')'))
                fail(what, "malformed .npy header (bad shape tuple)");
            if (r.size() > 32) fail(what, "too many dimensions");
        }
        ++i;
        return r;
    }
};

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

NpyHeader parse_header_dict(const std::string& text, const std::string& what) {
    HeaderParser p{text, what};
    NpyHeader h;
    bool got_descr = false, got_fortran = false, got_shape = false;
    p.expect('{');
    while (!p.peek('}')) {
        std::string key = p.str();
        p.expect(':');
        if (key == "descr") {
            h.descr = p.str();
            got_descr = true;
        } else if (key == "fortran_order") {
            h.fortran = p.boolean();
            got_fortran = true;
        } else if (key == "shape") {
            h.shape = p.tuple();
            got_shape = true;
        } else
            fail(what, "unexpected key '" + key + "' in .npy header");
        if (p.peek(','))
            ++p.i;
        else if (!p.peek('}'))
            fail(what, "malformed .npy header");
    }
    if (!got_descr || !got_fortran || !got_shape) fail(what, "incomplete .npy header (needs descr, fortran_order and shape)");
    return h;
}
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
}  // namespace mash::formats::detail
