// SPDX-License-Identifier: MIT
// Error types thrown by the mash library. Tools catch mash::Error, print its one-line message and
// exit with code 2 (bad input); anything else is an internal error (exit code 1).
#pragma once
#include <stdexcept>
#include <string>

namespace mash {

/// Base of every error the library raises for bad input or bad state.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

/// A file could not be read or written, or its content is malformed.
class IoError : public Error {
public:
    explicit IoError(const std::string& msg) : Error(msg) {}
};

/// A configuration key or value is invalid (unknown key, out of range).
class ConfigError : public Error {
public:
    explicit ConfigError(const std::string& msg) : Error(msg) {}
};

/// Numerically invalid input (NaN parameters, degenerate geometry, ...).
class InputError : public Error {
public:
    explicit InputError(const std::string& msg) : Error(msg) {}
};

}  // namespace mash
