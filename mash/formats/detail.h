// SPDX-License-Identifier: MIT
// Helpers shared by the format readers (internal to mash/formats: little-endian integers, checked
// shapes, numpy dtype strings, the .npy header). Not part of the API.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mash::formats::detail {

constexpr int64_t kMaxElements = int64_t(1) << 40;
[[noreturn]] void fail(const std::string& what, const std::string& msg);
uint64_t read_le(const uint8_t* p, int n);
void put_le(std::vector<uint8_t>& out, uint64_t v, int n);
int64_t checked_numel(const std::vector<int64_t>& shape, const std::string& what);
bool valid_kind_size(char kind, int itemsize);
void parse_descr(const std::string& d, const std::string& what, char* kind, int* itemsize, bool* big_endian);
void byteswap_inplace(std::vector<uint8_t>& data, int itemsize);
std::vector<uint8_t> fortran_to_c(const std::vector<uint8_t>& src, const std::vector<int64_t>& shape, int itemsize);
/// The .npy preamble: returns the header dict text and sets *offset to the data start.
std::string npy_header(const uint8_t* bytes, size_t size, const std::string& what, size_t* offset);
struct NpyHeader {
    std::string descr;
    bool fortran = false;
    std::vector<int64_t> shape;
};
NpyHeader parse_header_dict(const std::string& text, const std::string& what);
std::vector<uint8_t> npy_preamble(const std::string& descr, const std::vector<int64_t>& shape);

}  // namespace mash::formats::detail
