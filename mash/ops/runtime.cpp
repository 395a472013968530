// SPDX-License-Identifier: MIT
#include "mash/ops/runtime.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <malloc.h>
#include <torch/version.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include "mash/core/errors.h"

namespace mash::ops {

void ensure_passive_openmp(char** argv) {
    if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
    ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    ::execv("/proc/self/exe", argv);  // only returns on failure: then run as we are
}

void init_runtime(int threads) {
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    int n = threads > 0 ? threads : int(std::thread::hardware_concurrency());
    at::set_num_threads(n > 0 ? n : 1);
}

int num_threads() { return at::get_num_threads(); }

bool cuda_built() {
#ifdef MASH_WITH_CUDA
    return true;
#else
    return false;
#endif
}

bool cuda_available() { return cuda_built() && at::hasCUDA(); }

int64_t cuda_device_count() {
    if (!cuda_available()) return 0;
    return int64_t(at::detail::getCUDAHooks().deviceCount());
}

std::string resolve_device(const std::string& requested) {
    if (requested == "cpu") return "cpu";
    if (requested == "auto") return cuda_available() ? "cuda" : "cpu";
    if (requested == "cuda") {
        if (!cuda_built())
            throw ConfigError(
                "--device cuda: this build has no CUDA support (configured with MASH_WITH_CUDA=OFF; "
                "expected a build with nvcc and a CUDA LibTorch, or use --device cpu)");
        if (!cuda_available()) {
            const char* vis = std::getenv("CUDA_VISIBLE_DEVICES");
            throw ConfigError(std::string("--device cuda: no CUDA device is visible (") +
                              (vis ? "CUDA_VISIBLE_DEVICES='" + std::string(vis) + "'" : "no NVIDIA driver or GPU found") +
                              "; expected at least one GPU, or use --device cpu)");
        }
        return "cuda";
    }
    throw ConfigError("--device '" + requested + "': expected auto, cpu or cuda");
}

std::string torch_version() { return TORCH_VERSION; }

}  // namespace mash::ops
