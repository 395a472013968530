// SPDX-License-Identifier: MIT
// Degree limits of the original MASH implementation, shared by the ops and the representation.
#pragma once
#include <cstdint>

namespace mash {

inline constexpr int64_t kMaxShDegree = 6;     ///< the original SH tables stop at l = 6
inline constexpr int64_t kMaxMaskDegree = 10;  ///< MAX_MASK_DEGREE of the original code

}  // namespace mash
