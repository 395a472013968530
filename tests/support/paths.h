// SPDX-License-Identifier: MIT
// Torch-free test paths (see support.h for the tensor helpers).
#pragma once
#include <string>

namespace mash::test {
std::string test_data(const std::string& rel);
std::string temp_dir();
}  // namespace mash::test
