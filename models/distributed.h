// SPDX-License-Identifier: MIT
// Data-parallel training on LibTorch 2's c10d: one c10d::ProcessGroup with a Gloo backend for CPU
// tensors and, in CUDA builds (MASH_WITH_CUDA) training on the GPU, an NCCL backend for CUDA
// tensors (the NCCL path has not been run yet: no GPU on the build machines). Configured from
// the torchrun / Slurm environment:
//   RANK / SLURM_PROCID, WORLD_SIZE / SLURM_NTASKS, LOCAL_RANK / SLURM_LOCALID,
//   MASTER_ADDR (default 127.0.0.1), MASTER_PORT (default 29500).
// Rank 0 hosts the TCP store. World size 1 (no variables set) needs no network at all.
#pragma once
#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

namespace mash::models {

struct DistEnv {
    int rank = 0, world_size = 1, local_rank = 0;
    std::string master_addr = "127.0.0.1";
    int master_port = 29500;
    /// Reads the environment; throws ConfigError on inconsistent values (e.g. RANK >= WORLD_SIZE).
    static DistEnv from_environment();
};

/// The device a process trains on: "cpu" stays "cpu"; "cuda" (or "cuda:N") becomes
/// "cuda:<local_rank>" so that each process of a node has its own GPU. Pure; throws ConfigError for
/// other names.
std::string training_device(const std::string& requested, const DistEnv& env);
/// Makes `device` ("cuda:k") the current CUDA device of this process, so that tensors moved with
/// at::kCUDA and NCCL's communicators land on it; no-op for "cpu".
void set_current_device(const std::string& device);

class ProcessGroup {
public:
    /// world_size 1 → a no-op group. Otherwise connects (timeout_s for the rendezvous). With
    /// cuda = true and a build with NCCL (MASH_WITH_CUDA), collectives run on NCCL; tensors given
    /// to the collectives must then live on the GPU (CPU tensors are staged through it).
    explicit ProcessGroup(const DistEnv& env, double timeout_s = 300, bool cuda = false);
    ~ProcessGroup();
    int rank() const { return env_.rank; }
    int world_size() const { return env_.world_size; }
    /// Collectives run under no-grad (they are not part of any autograd graph). With NCCL, tensors
    /// are staged through cuda:<local_rank>.
    /// In-place sum over ranks, then divided by world size.
    void allreduce_mean(std::vector<at::Tensor>& tensors);
    /// In-place copy of rank 0's tensors to every rank.
    void broadcast(std::vector<at::Tensor>& tensors);
    void barrier();

private:
    DistEnv env_;
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace mash::models
