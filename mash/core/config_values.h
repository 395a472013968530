// SPDX-License-Identifier: MIT
// One set of rules for the values of every config file and `--set KEY=VALUE` (fit, train and
// dataset configs): booleans true / false (also True / False / 1 / 0), integers in decimal (no
// sign for unsigned settings, optionally within a range), finite numbers. A bad value throws
// ConfigError "<where>: <name> = '<text>' is not a valid <type>" (ranges: "(expected lo..hi)").
#pragma once
#include <cstdint>
#include <limits>
#include <string>

namespace mash::config {

bool parse_bool(const std::string& text, const std::string& name, const std::string& where);
int64_t parse_int(const std::string& text, const std::string& name, const std::string& where,
                  int64_t lo = std::numeric_limits<int64_t>::min(), int64_t hi = std::numeric_limits<int64_t>::max());
uint64_t parse_uint(const std::string& text, const std::string& name, const std::string& where);
double parse_number(const std::string& text, const std::string& name, const std::string& where);

}  // namespace mash::config
