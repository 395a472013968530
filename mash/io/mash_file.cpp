// SPDX-License-Identifier: MIT
#include "mash/io/mash_file.h"

#include <ATen/ATen.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <optional>

#include "mash/core/errors.h"
#include "mash/core/files.h"
#include "mash/core/limits.h"
#include "mash/formats/npy.h"
#include "mash/formats/pickle.h"
#include "mash/ops/rotation/rotation.h"

namespace mash::io {
namespace {

/// Uniform view over the two container layouts.
struct RawMash {
    std::map<std::string, formats::NpyArray> arrays;
    std::optional<bool> use_inv;
};

const formats::NpyArray& require(const RawMash& raw, const std::string& key, const std::string& what) {
    auto it = raw.arrays.find(key);
    if (it == raw.arrays.end()) throw IoError(what + ": missing key '" + key + "'");
    return it->second;
}

int64_t check_2d(const formats::NpyArray& a, const std::string& key, int64_t rows, int64_t cols, const std::string& what,
                 const std::string& expected_cols) {
    auto shape_str = [&] {
        std::string s = "[";
        for (size_t k = 0; k < a.shape.size(); ++k) s += (k ? "," : "") + std::to_string(a.shape[k]);
        return s + "]";
    };
    if (a.kind != 'f' && a.kind != 'i' && a.kind != 'u')
        throw IoError(what + ": '" + key + "' has dtype " + a.descr() + ", expected float32/float64");
    if (a.shape.size() != 2 || (rows >= 0 && a.shape[0] != rows) || (cols >= 0 && a.shape[1] != cols))
        throw IoError(what + ": '" + key + "' has shape " + shape_str() + ", expected [" +
                      (rows >= 0 ? std::to_string(rows) : std::string("A")) + "," + expected_cols + "]");
    return a.shape[1];
}

MashParams from_raw(const RawMash& raw, const std::string& what) {
    const formats::NpyArray& mask = require(raw, "mask_params", what);
    const formats::NpyArray& shp = require(raw, "sh_params", what);
    const formats::NpyArray& pos = require(raw, "positions", what);
    check_2d(pos, "positions", -1, 3, what, "3");
    const int64_t A = pos.shape[0];
    if (A < 1) throw IoError(what + ": MASH has 0 anchors (expected at least 1)");
    int64_t mcols = check_2d(mask, "mask_params", A, -1, what, "2K+1");
    int64_t scols = check_2d(shp, "sh_params", A, -1, what, "(L+1)^2");
    if (mcols % 2 != 1 || (mcols - 1) / 2 > kMaxMaskDegree)
        throw IoError(what + ": 'mask_params' has " + std::to_string(mcols) +
                      " columns, expected an odd count 2K+1 with K <= 10");
    int64_t L = int64_t(std::llround(std::sqrt(double(scols)))) - 1;
    if ((L + 1) * (L + 1) != scols || L > kMaxShDegree)
        throw IoError(what + ": 'sh_params' has " + std::to_string(scols) + " columns, expected a square (L+1)^2 with L <= 6");
    MashParams p;
    p.num_anchors = A;
    p.mask_degree = (mcols - 1) / 2;
    p.sh_degree = L;
    p.mask_params = mask.to_double();
    p.sh_params = shp.to_double();
    p.positions = pos.to_double();
    auto rv = raw.arrays.find("rotate_vectors");
    auto op = raw.arrays.find("ortho_poses");
    if (rv != raw.arrays.end()) {
        check_2d(rv->second, "rotate_vectors", A, 3, what, "3");
        p.rotate_vectors = rv->second.to_double();
    } else if (op != raw.arrays.end()) {
        check_2d(op->second, "ortho_poses", A, 6, what, "6");
        auto o = op->second.to_double();
        // Each stored 3-vector must be usable by Gram–Schmidt (non-zero, non-parallel).
        for (int64_t a = 0; a < A; ++a) {
            const double* v = &o[6 * a];
            double na = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
            double cx = v[1] * v[5] - v[2] * v[4], cy = v[2] * v[3] - v[0] * v[5], cz = v[0] * v[4] - v[1] * v[3];
            double nb = std::sqrt(v[3] * v[3] + v[4] * v[4] + v[5] * v[5]);
            if (!std::isfinite(na + nb + cx + cy + cz))
                throw InputError(what + ": 'ortho_poses' has a non-finite value at anchor " + std::to_string(a));
            if (na < 1e-12 || std::sqrt(cx * cx + cy * cy + cz * cz) < 1e-12 * na * nb)
                throw InputError(what + ": 'ortho_poses' row " + std::to_string(a) +
                                 " is degenerate (zero or parallel vectors; expected two independent 3-vectors)");
        }
        // HEAD convention: the stored vectors are the first two ROWS of R (spec §5.3).
        auto t = at::from_blob(o.data(), {A, 6}, at::TensorOptions().dtype(at::kDouble));
        auto R = ops::rotation::matrix_from_ortho6d(t).transpose(-1, -2);
        auto r = ops::rotation::axis_angle_from_matrix(R).contiguous();
        p.rotate_vectors.assign(r.data_ptr<double>(), r.data_ptr<double>() + r.numel());
    } else {
        throw IoError(what + ": missing rotation (expected key 'rotate_vectors' [A,3] or 'ortho_poses' [A,6])");
    }
    if (!raw.use_inv) throw IoError(what + ": missing key 'use_inv' (expected a bool)");
    p.use_inverse = *raw.use_inv;
    for (const auto& [key, arr] : raw.arrays) {
        (void)arr;
        if (key != "mask_params" && key != "sh_params" && key != "positions" && key != "rotate_vectors" && key != "ortho_poses")
            throw IoError(what + ": unexpected key '" + key +
                          "' (expected mask_params, sh_params, rotate_vectors|ortho_poses, positions, use_inv)");
    }
    p.validate(what);
    return p;
}

bool as_bool(const formats::NpyArray& a, const std::string& what) {
    if (a.numel() != 1) throw IoError(what + ": 'use_inv' must be a single bool");
    return a.to_double()[0] != 0.0;
}

}  // namespace

MashParams parse_mash(const uint8_t* bytes, size_t size, const std::string& what) {
    RawMash raw;
    if (formats::has_npy_magic(bytes, size)) {
        for (auto& [key, v] : formats::parse_pickled_dict_npy(bytes, size, what)) {
            if (key == "use_inv") {
                raw.use_inv = v.is_bool ? v.bool_value : as_bool(v.array, what);
            } else {
                if (v.is_bool) throw IoError(what + ": key '" + key + "' is a bool, expected an array");
                raw.arrays[key] = std::move(v.array);
            }
        }
    } else if (size >= 4 && bytes[0] == 'P' && bytes[1] == 'K') {
        for (auto& [key, arr] : formats::parse_npz(bytes, size, what)) {
            if (key == "use_inv")
                raw.use_inv = as_bool(arr, what);
            else
                raw.arrays[key] = std::move(arr);
        }
    } else {
        throw IoError(what + ": not a MASH file (expected an .npz archive or a pickled-dict .npy)");
    }
    return from_raw(raw, what);
}

bool is_mash_file(const std::string& path) {
    const std::string e = lower_extension(path);
    if (e != ".npz" && e != ".npy") return false;
    auto bytes = read_file(path);
    if (formats::has_npy_magic(bytes.data(), bytes.size())) {
        // Pickled dicts are object arrays ('|O'); numeric .npy files are point arrays.
        std::string head(bytes.begin(), bytes.begin() + std::min<size_t>(bytes.size(), 128));
        return head.find("'|O'") != std::string::npos;
    }
    for (const auto& [k, v] : formats::parse_npz(bytes.data(), bytes.size(), path))
        if (k == "sh_params") return true;
    return false;
}

MashParams load_mash(const std::string& path) {
    std::string ext = lower_extension(path);
    if (ext != ".npz" && ext != ".npy")
        throw IoError(path + ": unsupported MASH file extension '" + ext + "' (expected .npz or .npy)");
    auto bytes = read_file(path);
    return parse_mash(bytes.data(), bytes.size(), path);
}

void save_mash(const std::string& path, const MashParams& p, bool compress) {
    p.validate(path);
    std::string ext = lower_extension(path);
    const int64_t A = p.num_anchors;
    if (ext == ".npz") {
        formats::NamedArrays arrays = {
            {"rotate_vectors", formats::NpyArray::from_double(p.rotate_vectors, {A, 3})},
            {"positions", formats::NpyArray::from_double(p.positions, {A, 3})},
            {"mask_params", formats::NpyArray::from_double(p.mask_params, {A, p.mask_dim()})},
            {"sh_params", formats::NpyArray::from_double(p.sh_params, {A, p.sh_dim()})},
            {"use_inv", formats::NpyArray::scalar_bool(p.use_inverse)},
        };
        write_file_atomic(path, formats::serialize_npz(arrays, compress));
    } else if (ext == ".npy") {
        formats::PickledDict d;
        auto arr = [](formats::NpyArray a) {
            formats::PickledValue v;
            v.array = std::move(a);
            return v;
        };
        d.emplace_back("mask_params", arr(formats::NpyArray::from_double(p.mask_params, {A, p.mask_dim()})));
        d.emplace_back("sh_params", arr(formats::NpyArray::from_double(p.sh_params, {A, p.sh_dim()})));
        d.emplace_back("rotate_vectors", arr(formats::NpyArray::from_double(p.rotate_vectors, {A, 3})));
        d.emplace_back("positions", arr(formats::NpyArray::from_double(p.positions, {A, 3})));
        formats::PickledValue b;
        b.is_bool = true;
        b.bool_value = p.use_inverse;
        d.emplace_back("use_inv", b);
        write_file_atomic(path, formats::serialize_pickled_dict_npy(d));
    } else {
        throw IoError(path + ": unsupported MASH file extension '" + ext + "' (expected .npz or .npy)");
    }
}

}  // namespace mash::io
