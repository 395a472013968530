// SPDX-License-Identifier: MIT
// The one strict reader of config files and `--set SECTION.KEY=VALUE` (fit, fit-dataset and train
// configs). A config is a YAML mapping of sections, each a mapping of `key: value`. A Schema<T>
// lists a struct's settings (section, key, member) and reads them all with the same rules:
//   - values as config_values.h says (booleans, integers, numbers); enumerated settings by name
//     (Choices); strings as written, paths relative to the config's folder where marked; a list
//     only where the setting takes one; an empty value (`key:`) is the empty text;
//   - unknown sections and keys, nested values and keys that are not plain names are errors;
//   - every problem is one ConfigError "<file or --set>: <problem> (expected ...)".
// The schema also writes a struct back (to_yaml in checkpoints, `--print-config`) from the same
// table, so reading and writing cannot drift apart.
#pragma once
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "mash/core/config_values.h"

namespace mash::config {

[[noreturn]] void bad_choice(const std::string& text, const std::string& name, const std::string& where,
                             const std::string& expected);
[[noreturn]] void bad_flag_choice(const std::string& text, const std::string& flag, const std::string& expected);

/// The names of an enumerated setting, as written in configs and checkpoints. An enum E takes part
/// by declaring `const config::Choices<E>& choices(E);` in its own namespace.
template <class E>
class Choices {
public:
    Choices(std::initializer_list<std::pair<E, const char*>> names) : names_(names) {}
    const char* name(E e) const {
        for (const auto& [v, n] : names_)
            if (v == e) return n;
        return "?";
    }
    /// Throws ConfigError "<where>: <name> = '<text>' is not a valid choice (expected a, b or c)".
    E parse(const std::string& text, const std::string& name, const std::string& where) const {
        if (const E* v = find(text)) return *v;
        bad_choice(text, name, where, expected());
    }
    /// For command-line flags: throws ConfigError "<flag> '<text>': expected a, b or c".
    E parse_flag(const std::string& text, const std::string& flag) const {
        if (const E* v = find(text)) return *v;
        bad_flag_choice(text, flag, expected());
    }
    /// "a, b or c"
    std::string expected() const {
        std::string s;
        for (size_t i = 0; i < names_.size(); ++i)
            s += (i == 0 ? "" : i + 1 == names_.size() ? " or " : ", ") + std::string(names_[i].second);
        return s;
    }

private:
    const E* find(const std::string& text) const {
        for (const auto& [v, n] : names_)
            if (text == n) return &v;
        return nullptr;
    }
    std::vector<std::pair<E, const char*>> names_;
};

template <class T, class = void>
struct has_choices : std::false_type {};
template <class T>
struct has_choices<T, std::void_t<decltype(choices(std::declval<T>()))>> : std::true_type {};

/// The config name of an enumerated value ("flow_matching" for Objective::kFlowMatching).
template <class E>
std::string name(E e) {
    return choices(e).name(e);
}

/// A command-line flag's enumerated value; "" (the flag not given) is unset. Throws ConfigError
/// "<flag> '<text>': expected a, b or c".
template <class E>
std::optional<E> flag_choice(const std::string& text, const std::string& flag) {
    if (text.empty()) return std::nullopt;
    return choices(E{}).parse_flag(text, flag);
}

/// What a setting's value is when written out.
using Written = std::variant<bool, int64_t, uint64_t, double, std::string>;

/// Where values come from: the file name (or "--set") for messages, the file's folder for paths.
struct Source {
    std::string where;
    std::string base_dir;
};

/// One value as read: its text, or its items when written as a YAML list.
struct Value {
    std::string text;
    std::vector<std::string> items;
    bool is_list = false;
};

/// `value` resolved against `base_dir` when relative (and both are non-empty).
std::string resolve_path(const std::string& value, const std::string& base_dir);

/// Throws ConfigError "<where>: <name> must be a single value (expected key: value)".
[[noreturn]] void not_a_scalar(const std::string& name, const std::string& where);

/// Inclusive bounds of an integer setting.
struct Range {
    int64_t lo = std::numeric_limits<int64_t>::min();
    int64_t hi = std::numeric_limits<int64_t>::max();
};

template <class V>
struct is_optional : std::false_type {};
template <class V>
struct is_optional<std::optional<V>> : std::true_type {};
/// The value type of a member: V for V and for std::optional<V>.
template <class M>
struct unwrap_optional {
    using type = M;
};
template <class V>
struct unwrap_optional<std::optional<V>> {
    using type = V;
};

/// Reads one scalar of type V (bool, int64_t, uint64_t, double, std::string or an enum with choices).
template <class V>
V read_scalar(const std::string& text, const std::string& name, const std::string& where, const Range& range) {
    if constexpr (std::is_same_v<V, bool>)
        return parse_bool(text, name, where);
    else if constexpr (std::is_same_v<V, int64_t>)
        return parse_int(text, name, where, range.lo, range.hi);
    else if constexpr (std::is_same_v<V, uint64_t>)
        return parse_uint(text, name, where);
    else if constexpr (std::is_same_v<V, double>)
        return parse_number(text, name, where);
    else if constexpr (std::is_same_v<V, std::string>)
        return text;
    else {
        static_assert(has_choices<V>::value, "a setting is bool, int64_t, uint64_t, double, a string or an enum with choices()");
        return choices(V{}).parse(text, name, where);
    }
}

template <class V>
Written write_scalar(const V& v) {
    if constexpr (std::is_enum_v<V>)
        return std::string(choices(v).name(v));
    else
        return Written(v);
}

/// One setting of T: where it sits in the file and how it is read and written.
template <class T>
struct Setting {
    std::string section, key;
    std::function<void(T&, const Value&, const std::string& name, const Source&)> read;
    std::function<Written(const T&)> write;  ///< empty for settings that are not written back
};

/// A setting held in `member`: a scalar type of read_scalar or std::vector<std::string> (a list,
/// or one item), or std::optional of either (set when given). `range` bounds integers. Lists and
/// optional settings are read only (not written back).
template <class T, class M>
Setting<T> setting(const char* section, const char* key, M T::*member, Range range = {}) {
    using V = typename unwrap_optional<M>::type;
    constexpr bool is_list = std::is_same_v<V, std::vector<std::string>>;
    Setting<T> s{section, key, {}, {}};
    s.read = [member, range](T& t, const Value& v, const std::string& name, const Source& src) {
        if constexpr (is_list) {
            t.*member = v.is_list ? v.items : std::vector<std::string>{v.text};
        } else {
            if (v.is_list) not_a_scalar(name, src.where);
            t.*member = read_scalar<V>(v.text, name, src.where, range);
        }
    };
    if constexpr (!is_optional<M>::value && !is_list) s.write = [member](const T& t) { return write_scalar(t.*member); };
    return s;
}

/// A string setting naming a file or folder: relative values are taken from the config's folder.
template <class T>
Setting<T> path_setting(const char* section, const char* key, std::string T::*member) {
    Setting<T> s = setting(section, key, member);
    s.read = [member](T& t, const Value& v, const std::string& name, const Source& src) {
        if (v.is_list) not_a_scalar(name, src.where);
        t.*member = resolve_path(v.text, src.base_dir);
    };
    return s;
}

/// One `section.key: value` of a config, in file order.
struct Entry {
    std::string section, key;
    Value value;
};

/// Parses YAML text into its entries. The root is a mapping of sections (an empty file has
/// none); entries of `sections` are returned, sections in `others` (read by another schema from
/// the same file) skipped, any other section is an error. Throws ConfigError "<what>: ...".
std::vector<Entry> parse_entries(const std::string& text, const std::string& what, const std::vector<std::string>& sections,
                                 const std::vector<std::string>& others = {});
/// A config file's text; throws ConfigError "<path>: cannot open config file".
std::string read_config_file(const std::string& path);
/// The folder of a config file (absolute), against which its relative paths are resolved.
std::string config_folder(const std::string& path);

/// `--set` text split into section, key and value. Without a dot the key belongs to
/// `default_section` (when it is not empty). Throws ConfigError naming `example` as the form.
Entry parse_assignment(const std::string& assignment, const std::string& default_section, const std::string& example);

[[noreturn]] void unknown_key(const std::string& section, const std::string& key, const std::string& valid,
                              const std::string& where);
[[noreturn]] void unknown_section(const std::string& section, const std::vector<std::string>& expected, const std::string& where);

/// The settings of T, read and written by one table.
template <class T>
class Schema {
public:
    explicit Schema(std::vector<Setting<T>> settings) : settings_(std::move(settings)) {
        for (const auto& s : settings_) {
            bool seen = false;
            for (const auto& n : sections_) seen = seen || n == s.section;
            if (!seen) sections_.push_back(s.section);
        }
    }
    const std::vector<Setting<T>>& settings() const { return settings_; }
    /// The sections, in table order.
    const std::vector<std::string>& sections() const { return sections_; }

    /// "a, b, c": the keys of one section.
    std::string keys_of(const std::string& section) const {
        std::string out;
        for (const auto& s : settings_)
            if (s.section == section) out += (out.empty() ? "" : ", ") + s.key;
        return out;
    }
    /// Sets one entry; unknown keys throw ConfigError "<where>: unknown key 'section.key' (valid keys: ...)",
    /// unknown sections "<where>: unknown section 'name' (expected a, b)".
    void set(T& t, const Entry& e, const Source& src) const {
        for (const auto& s : settings_)
            if (s.section == e.section && s.key == e.key) return s.read(t, e.value, e.section + "." + e.key, src);
        if (keys_of(e.section).empty()) unknown_section(e.section, sections_, src.where);
        unknown_key(e.section, e.key, keys_of(e.section), src.where);
    }
    /// Reads YAML text over `t` (settings not in the text keep their values).
    void read(T& t, const std::string& text, const Source& src, const std::vector<std::string>& others = {}) const {
        for (const auto& e : parse_entries(text, src.where, sections_, others)) set(t, e, src);
    }
    /// Applies one `--set` assignment (errors name "--set").
    void assign(T& t, const std::string& assignment, const std::string& default_section, const std::string& example) const {
        set(t, parse_assignment(assignment, default_section, example), Source{"--set", ""});
    }

private:
    std::vector<Setting<T>> settings_;
    std::vector<std::string> sections_;
};

}  // namespace mash::config
