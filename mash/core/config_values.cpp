// SPDX-License-Identifier: MIT
#include "mash/core/config_values.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "mash/core/errors.h"

namespace mash::config {
namespace {

[[noreturn]] void bad(const std::string& text, const std::string& name, const std::string& where, const std::string& type) {
    throw ConfigError(where + ": " + name + " = '" + text + "' is not a valid " + type);
}

}  // namespace

bool parse_bool(const std::string& text, const std::string& name, const std::string& where) {
    if (text == "true" || text == "True" || text == "1") return true;
    if (text == "false" || text == "False" || text == "0") return false;
    bad(text, name, where, "bool (true/false)");
}

int64_t parse_int(const std::string& text, const std::string& name, const std::string& where, int64_t lo, int64_t hi) {
    char* end = nullptr;
    errno = 0;
    const long long x = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || std::isspace(static_cast<unsigned char>(text[0])) || *end != '\0' || errno == ERANGE)
        bad(text, name, where, "integer");
    if (x < lo || x > hi) bad(text, name, where, "integer (expected " + std::to_string(lo) + ".." + std::to_string(hi) + ")");
    return x;
}

uint64_t parse_uint(const std::string& text, const std::string& name, const std::string& where) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long x = std::strtoull(text.c_str(), &end, 10);
    if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0])) || *end != '\0' || errno == ERANGE)
        bad(text, name, where, "non-negative integer");
    return x;
}

double parse_number(const std::string& text, const std::string& name, const std::string& where) {
    char* end = nullptr;
    errno = 0;
    const double x = std::strtod(text.c_str(), &end);
    if (text.empty() || std::isspace(static_cast<unsigned char>(text[0])) || *end != '\0' || errno == ERANGE || !std::isfinite(x))
        bad(text, name, where, "number");
    return x;
}

}  // namespace mash::config
