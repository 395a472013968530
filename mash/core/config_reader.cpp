// SPDX-License-Identifier: MIT
#include "mash/core/config_reader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>

#include "mash/core/errors.h"
#include "mash/core/files.h"

namespace mash::config {
namespace {

std::string joined(const std::vector<std::string>& names) {
    std::string s;
    for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
    return s;
}

bool contains(const std::vector<std::string>& names, const std::string& n) {
    return std::find(names.begin(), names.end(), n) != names.end();
}

/// A mapping key's text; keys that are not plain scalars are config errors, not YAML exceptions.
std::string key_text(const YAML::Node& key, const std::string& what, const std::string& context) {
    if (!key.IsScalar()) throw ConfigError(what + ": " + context);
    return key.Scalar();
}

}  // namespace

void bad_choice(const std::string& text, const std::string& name, const std::string& where, const std::string& expected) {
    throw ConfigError(where + ": " + name + " = '" + text + "' is not a valid choice (expected " + expected + ")");
}

void bad_flag_choice(const std::string& text, const std::string& flag, const std::string& expected) {
    throw ConfigError(flag + " '" + text + "': expected " + expected);
}

void not_a_scalar(const std::string& name, const std::string& where) {
    throw ConfigError(where + ": " + name + " must be a single value (expected key: value)");
}

void unknown_key(const std::string& section, const std::string& key, const std::string& valid, const std::string& where) {
    throw ConfigError(where + ": unknown key '" + section + "." + key + "' (valid keys: " + valid + ")");
}

void unknown_section(const std::string& section, const std::vector<std::string>& expected, const std::string& where) {
    throw ConfigError(where + ": unknown section '" + section + "' (expected " + joined(expected) + ")");
}

std::string resolve_path(const std::string& value, const std::string& base_dir) {
    if (value.empty() || base_dir.empty() || !std::filesystem::path(value).is_relative()) return value;
    return (std::filesystem::path(base_dir) / value).lexically_normal().string();
}

std::vector<Entry> parse_entries(const std::string& text, const std::string& what, const std::vector<std::string>& sections,
                                 const std::vector<std::string>& others) {
    std::vector<std::string> all = sections;
    for (const auto& o : others)
        if (!contains(all, o)) all.push_back(o);
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        throw ConfigError(what + ": invalid YAML: " + e.what());
    }
    std::vector<Entry> out;
    if (root.IsNull()) return out;
    if (!root.IsMap()) throw ConfigError(what + ": expected a mapping of sections (" + joined(all) + ")");
    for (const auto& sec : root) {
        const std::string section = key_text(sec.first, what, "a section name is not a plain name (expected section: mapping)");
        if (!contains(all, section)) unknown_section(section, all, what);
        if (!contains(sections, section) || sec.second.IsNull()) continue;
        if (!sec.second.IsMap()) throw ConfigError(what + ": section '" + section + "' must be a mapping");
        for (const auto& kv : sec.second) {
            Entry e;
            e.section = section;
            e.key = key_text(kv.first, what, section + ": a key is not a plain name (expected key: value)");
            const YAML::Node& v = kv.second;
            if (v.IsSequence()) {
                e.value.is_list = true;
                for (const auto& item : v) {
                    if (!item.IsScalar())
                        throw ConfigError(what + ": " + section + "." + e.key + ": expected a list of single values");
                    e.value.items.push_back(item.Scalar());
                }
            } else if (v.IsScalar()) {
                e.value.text = v.Scalar();
            } else if (!v.IsNull()) {
                not_a_scalar(section + "." + e.key, what);
            }
            out.push_back(std::move(e));
        }
    }
    return out;
}

std::string read_config_file(const std::string& path) {
    std::vector<uint8_t> bytes;
    try {
        bytes = read_file(path);
    } catch (const IoError&) {
        throw ConfigError(path + ": cannot open config file");
    }
    return std::string(bytes.begin(), bytes.end());
}

std::string config_folder(const std::string& path) { return std::filesystem::absolute(path).parent_path().string(); }

Entry parse_assignment(const std::string& a, const std::string& default_section, const std::string& example) {
    const auto eq = a.find('=');
    const auto dot = a.find('.');
    const bool dotted = dot != std::string::npos && dot < eq;
    if (eq == std::string::npos || eq == 0 || (!dotted && default_section.empty()) || (dotted && (dot == 0 || dot + 1 == eq)))
        throw ConfigError("--set '" + a + "': expected " + example);
    Entry e;
    e.section = dotted ? a.substr(0, dot) : default_section;
    e.key = dotted ? a.substr(dot + 1, eq - dot - 1) : a.substr(0, eq);
    e.value.text = a.substr(eq + 1);
    return e;
}

}  // namespace mash::config
