// SPDX-License-Identifier: MIT
// A program built against the installed mash package: loads a MASH, samples its surface and
// writes the points as a PLY file.   sample_mash IN.npz OUT.ply
#include <mash/mash.h>

#include <cstdio>
#include <vector>

int main(int argc, char** argv) {
    if (argc != 3) return std::fprintf(stderr, "usage: %s IN.npz OUT.ply\n", argv[0]), 2;
    mash::ops::init_runtime(2);
    const mash::MashParams p = mash::io::load_mash(argv[1]);  // ours (.npz) or the original's (.npy)
    mash::MashOptions o;
    o.num_anchors = p.num_anchors, o.mask_degree = p.mask_degree, o.sh_degree = p.sh_degree;
    mash::Mash m(o, torch::kFloat64);
    m->set_params(p);
    const at::Tensor points = m->forward().points().contiguous();  // [P, 3], differentiable in m's parameters
    mash::io::save_points(argv[2], std::vector<double>(points.data_ptr<double>(), points.data_ptr<double>() + points.numel()));
    std::printf("%s: %lld anchors -> %lld surface points in %s\n", argv[1], (long long)p.num_anchors, (long long)points.size(0),
                argv[2]);
}
