// SPDX-License-Identifier: MIT
// The LibTorch runtime the ops run in: process-wide setup every `main` calls first (threads,
// malloc tuning, the OpenMP wait policy), devices, versions (torch-free header).
#pragma once
#include <string>

namespace mash::ops {

/// Keeps freed memory in the heap (first-touch page faults are very slow on our VMs: a cdist went
/// 7.8 s → 0.55 s) and sets LibTorch's intra-op threads (it starts with 1). threads <= 0 means
/// "all cores".
void init_runtime(int threads = 0);

/// OpenMP's default wait policy spins idle threads, which starves OpenBLAS's own threads on a
/// small machine: a generator train step ran 0.83 s with 2 threads vs 0.51 s with
/// OMP_WAIT_POLICY=PASSIVE (experiments/bench_generation). libgomp reads the variable before
/// main, so when it is unset this sets it and re-executes the program (argv unchanged); a user's
/// own setting is kept. Call first thing in main.
void ensure_passive_openmp(char** argv);

/// Number of intra-op threads in use.
int num_threads();

/// "cpu" or "cuda" from a --device value ("auto", "cpu", "cuda"). Throws ConfigError if CUDA is
/// requested but not available (or the value is unknown).
std::string resolve_device(const std::string& requested);

/// True if this build can use CUDA tensors (CUDA LibTorch and a visible device).
bool cuda_available();
/// Number of CUDA devices LibTorch sees (0 without CUDA).
int64_t cuda_device_count();

/// True if this build has the CUDA kernels (MASH_WITH_CUDA), whether or not a GPU is visible.
bool cuda_built();

/// LibTorch version string, for logs and reports.
std::string torch_version();

}  // namespace mash::ops
