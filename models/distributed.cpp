// SPDX-License-Identifier: MIT
#include "models/distributed.h"

#include <ATen/ATen.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <cstdlib>

#include "mash/core/errors.h"

namespace mash::models {
namespace {

const char* env_first(std::initializer_list<const char*> names) {
    for (const char* n : names)
        if (const char* v = std::getenv(n); v && *v) return v;
    return nullptr;
}

int env_int(std::initializer_list<const char*> names, int fallback) {
    const char* v = env_first(names);
    if (!v) return fallback;
    char* end = nullptr;
    long x = std::strtol(v, &end, 10);
    if (*end != '\0' || x < 0)
        throw ConfigError(std::string("environment: ") + *names.begin() + "='" + v + "' is not a non-negative integer");
    return static_cast<int>(x);
}

}  // namespace

DistEnv DistEnv::from_environment() {
    DistEnv e;
    e.world_size = env_int({"WORLD_SIZE", "SLURM_NTASKS"}, 1);
    e.rank = env_int({"RANK", "SLURM_PROCID"}, 0);
    e.local_rank = env_int({"LOCAL_RANK", "SLURM_LOCALID"}, 0);
    if (const char* a = env_first({"MASTER_ADDR"})) e.master_addr = a;
    e.master_port = env_int({"MASTER_PORT"}, 29500);
    if (e.world_size < 1) throw ConfigError("environment: WORLD_SIZE must be >= 1");
    if (e.rank >= e.world_size)
        throw ConfigError("environment: RANK=" + std::to_string(e.rank) +
                          " must be < WORLD_SIZE=" + std::to_string(e.world_size));
    if (e.master_port < 1 || e.master_port > 65535) throw ConfigError("environment: MASTER_PORT out of range");
    return e;
}

std::string training_device(const std::string& requested, const DistEnv& env) {
    if (requested == "cpu") return requested;
    if (requested == "cuda" || requested.rfind("cuda:", 0) == 0) return "cuda:" + std::to_string(env.local_rank);
    throw ConfigError("--device '" + requested + "': expected cpu or cuda");
}

void set_current_device(const std::string& device) {
    const at::Device d(device);
    if (d.is_cuda()) c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA)->setDevice(d);
}

struct ProcessGroup::Impl {
    c10::intrusive_ptr<c10d::Store> store;
    c10::intrusive_ptr<c10d::ProcessGroup> pg;
    bool cuda = false;
    at::Device device{at::kCPU};  ///< cuda:<local_rank> with NCCL
};

ProcessGroup::ProcessGroup(const DistEnv& env, double timeout_s, bool cuda) : env_(env) {
    if (env.world_size == 1) return;
    impl_ = std::make_unique<Impl>();
    try {
        c10d::TCPStoreOptions so;
        so.port = static_cast<uint16_t>(env.master_port);
        so.isServer = env.rank == 0;
        so.numWorkers = env.world_size;
        so.waitWorkers = true;
        so.timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
        impl_->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
        // LibTorch 2 process group: one c10d::ProcessGroup over the store, with a Gloo backend for
        // CPU tensors and (CUDA builds, cuda = true) an NCCL backend for CUDA tensors.
        impl_->pg = c10::make_intrusive<c10d::ProcessGroup>(impl_->store, env.rank, env.world_size);
        auto opts = c10d::ProcessGroupGloo::Options::create();
        opts->timeout = so.timeout;
        // Loopback master: all ranks on this machine. Otherwise bind to this host's own interface
        // (GLOO_SOCKET_IFNAME selects one, as in PyTorch).
        const bool local = env.master_addr == "127.0.0.1" || env.master_addr == "localhost";
        opts->devices.push_back(local ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                      : c10d::ProcessGroupGloo::createDefaultDevice());
        auto gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(c10::make_intrusive<c10d::PrefixStore>("gloo", impl_->store),
                                                                env.rank, env.world_size, opts);
        impl_->pg->setBackend(c10::DeviceType::CPU, c10d::ProcessGroup::BackendType::GLOO, gloo);
        impl_->pg->setDefaultBackend(c10d::ProcessGroup::BackendType::GLOO);
#ifdef USE_C10D_NCCL
        if (cuda) {
            impl_->cuda = true;
            impl_->device = at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank));
            auto nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(c10::make_intrusive<c10d::PrefixStore>("nccl", impl_->store),
                                                                    env.rank, env.world_size);
            impl_->pg->setBackend(c10::DeviceType::CUDA, c10d::ProcessGroup::BackendType::NCCL, nccl);
            impl_->pg->setDefaultBackend(c10d::ProcessGroup::BackendType::NCCL);
        }
#else
        (void)cuda;
#endif
    } catch (const std::exception& e) {
        throw Error("distributed: rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size) +
                    " could not join the process group at " + env.master_addr + ":" + std::to_string(env.master_port) + ": " +
                    e.what());
    }
}

ProcessGroup::~ProcessGroup() = default;

void ProcessGroup::allreduce_mean(std::vector<at::Tensor>& tensors) {
    if (!impl_ || tensors.empty()) return;
    torch::autograd::AutoGradMode no_grad(false);
    // One flat buffer: one collective per step instead of one per parameter.
    std::vector<at::Tensor> flat_parts;
    for (auto& t : tensors) flat_parts.push_back(t.reshape({-1}));
    std::vector<at::Tensor> buf{at::cat(flat_parts)};
    if (impl_->cuda) buf[0] = buf[0].to(impl_->device);
    impl_->pg->allreduce(buf)->wait();
    buf[0].div_(env_.world_size);
    int64_t off = 0;
    for (auto& t : tensors) {
        t.copy_(buf[0].narrow(0, off, t.numel()).view_as(t));
        off += t.numel();
    }
}

void ProcessGroup::broadcast(std::vector<at::Tensor>& tensors) {
    if (!impl_) return;
    torch::autograd::AutoGradMode no_grad(false);
    for (auto& t : tensors) {
        std::vector<at::Tensor> one{impl_->cuda ? t.to(impl_->device) : t};
        impl_->pg->broadcast(one)->wait();
        if (!one[0].is_same(t)) t.copy_(one[0]);
    }
}

void ProcessGroup::barrier() {
    if (impl_) impl_->pg->barrier()->wait();
}

}  // namespace mash::models
