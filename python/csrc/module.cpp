// SPDX-License-Identifier: MIT
// mash._C: the Python extension. The differentiable ops are torch operators registered by the
// mash libraries themselves (torch.ops.mash.world_points / fps / nearest); this module adds the
// sampling pass of a MASH on given parameter tensors, MASH files, and fitting a file, with the
// library's errors as Python exceptions carrying the same one-line messages as the CLI.
#include <torch/extension.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mash/core/errors.h"
#include "mash/core/mash_params.h"
#include "mash/fitting/fit_options.h"
#include "mash/fitting/pipeline.h"
#include "mash/io/mash_file.h"
#include "mash/ops/runtime.h"
#include "mash/pictures/render.h"
#include "mash/representation/mash.h"
#include "models/generate.h"
#include "models/generator.h"
#include "models/tokens.h"
#ifndef MASH_WITHOUT_OPEN3D
#include "mash/mesh/extract.h"
#endif

namespace py = pybind11;

namespace {

at::Tensor to_tensor(const std::vector<double>& v, int64_t rows, int64_t cols) {
    return at::tensor(v, at::kDouble).reshape({rows, cols});
}

std::vector<double> to_vector(const at::Tensor& t) {
    const at::Tensor c = t.detach().to(at::kCPU, at::kDouble).contiguous();
    return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

py::dict params_dict(const mash::MashParams& p) {
    py::dict d;
    d["rotate_vectors"] = to_tensor(p.rotate_vectors, p.num_anchors, 3);
    d["positions"] = to_tensor(p.positions, p.num_anchors, 3);
    d["mask_params"] = to_tensor(p.mask_params, p.num_anchors, p.mask_dim());
    d["sh_params"] = to_tensor(p.sh_params, p.num_anchors, p.sh_dim());
    d["mask_degree"] = p.mask_degree;
    d["sh_degree"] = p.sh_degree;
    d["use_inverse"] = p.use_inverse;
    return d;
}

mash::MashParams params_from(const at::Tensor& rotate_vectors, const at::Tensor& positions, const at::Tensor& mask_params,
                             const at::Tensor& sh_params, int64_t mask_degree, int64_t sh_degree, bool use_inverse) {
    mash::MashParams p = mash::MashParams::zeros(positions.size(0), mask_degree, sh_degree);
    p.rotate_vectors = to_vector(rotate_vectors);
    p.positions = to_vector(positions);
    p.mask_params = to_vector(mask_params);
    p.sh_params = to_vector(sh_params);
    p.use_inverse = use_inverse;
    p.validate("parameters");
    return p;
}

// One sampling module per set of options; sample() runs its forward on the caller's parameter
// tensors, so gradients reach them.
class Sampler {
public:
    Sampler(int64_t anchors, int64_t mask_degree, int64_t sh_degree, int64_t num_directions, int64_t num_boundary,
            double fps_scale, bool use_inverse, py::object dtype, const std::string& device) {
        mash::MashOptions o;
        o.num_anchors = anchors;
        o.mask_degree = mask_degree;
        o.sh_degree = sh_degree;
        o.num_directions = num_directions;
        o.num_boundary = num_boundary;
        o.fps_scale = fps_scale;
        o.use_inverse = use_inverse;
        o.validate();
        const auto st = torch::python::detail::py_object_to_dtype(dtype);
        m_ = mash::Mash(o, at::TensorOptions().dtype(st).device(at::Device(device)));
    }
    py::dict sample(const at::Tensor& rotate_vectors, const at::Tensor& positions, const at::Tensor& mask_params,
                    const at::Tensor& sh_params, bool subsample) {
        const int64_t A = m_->options().num_anchors;
        auto check = [&](const at::Tensor& t, int64_t cols, const char* name) {
            if (t.dim() != 2 || t.size(0) != A || t.size(1) != cols)
                throw mash::InputError(std::string(name) + ": shape " + std::string(c10::str(t.sizes())) + " (expected [" +
                                       std::to_string(A) + ", " + std::to_string(cols) + "])");
        };
        check(rotate_vectors, 3, "rotate_vectors");
        check(positions, 3, "positions");
        check(mask_params, 2 * m_->options().mask_degree + 1, "mask_params");
        check(sh_params, (m_->options().sh_degree + 1) * (m_->options().sh_degree + 1), "sh_params");
        m_->rotate_vectors = rotate_vectors;
        m_->positions = positions;
        m_->mask_params = mask_params;
        m_->sh_params = sh_params;
        const mash::MashSamples s = m_->forward(subsample);
        py::dict d;
        d["points"] = s.points();
        d["anchor_idx"] = s.anchor_idx();
        d["boundary_points"] = s.boundary_points;
        d["inner_points"] = s.inner_points;
        d["boundary_anchor_idx"] = s.boundary_anchor_idx;
        d["inner_anchor_idx"] = s.inner_anchor_idx;
        return d;
    }

private:
    mash::Mash m_{nullptr};
};

// The fixed sampling buffers of a MASH module (directions, boundary azimuths, their mask bases) in
// `dtype` on `device`, exactly as the C++ module computes them.
py::dict sampling_buffers(int64_t mask_degree, int64_t num_directions, int64_t num_boundary, py::object dtype,
                          const std::string& device) {
    mash::MashOptions o;
    o.num_anchors = 1;
    o.mask_degree = mask_degree;
    o.num_directions = num_directions;
    o.num_boundary = num_boundary;
    o.validate();
    const auto st = torch::python::detail::py_object_to_dtype(dtype);
    mash::Mash m(o, at::TensorOptions().dtype(st).device(at::Device(device)));
    py::dict d;
    for (const auto& b : m->named_buffers()) d[py::str(b.key())] = b.value();
    return d;
}

py::dict fit_file(const std::string& path, const std::string& config, const std::vector<std::string>& overrides, uint64_t seed,
                  const std::string& device) {
    mash::fitting::FitOptions o;
    if (!config.empty()) mash::fitting::load_fit_config(config, o);
    for (const auto& s : overrides) mash::fitting::apply_fit_override(s, o);
    o.validate();
    mash::fitting::FileFitResult r;
    {
        py::gil_scoped_release release;
        r = mash::fitting::fit_file(path, o, seed, {}, device);
    }
    py::dict d = params_dict(r.params);
    py::dict rep;
    rep["steps"] = r.fit.steps;
    rep["seconds"] = r.fit.seconds;
    rep["input_points"] = r.input_points;
    rep["l1_cd"] = r.fit.metrics.l1_cd;
    rep["l2_cd"] = r.fit.metrics.l2_cd;
    rep["fscore"] = r.fit.metrics.fscore;
    d["report"] = rep;
    return d;
}

// mash mesh's MASH route with its defaults: oriented samples, screened Poisson at `depth`.
py::tuple mesh_params(const at::Tensor& rv, const at::Tensor& pos, const at::Tensor& mask, const at::Tensor& sh, int64_t K,
                      int64_t L, bool inv, int depth) {
#ifdef MASH_WITHOUT_OPEN3D
    throw mash::ConfigError("mesh: not in this build (configured with MASH_WITH_OPEN3D=OFF; expected a build with Open3D)");
#else
    if (depth < 4 || depth > 12) throw mash::ConfigError("depth " + std::to_string(depth) + ": expected 4..12");
    const mash::MashParams p = params_from(rv, pos, mask, sh, K, L, inv);
    mash::mesh::TriangleMesh tm;
    {
        py::gil_scoped_release release;
        auto s = mash::mesh::mash_oriented_samples(p, mash::mesh::MashSurfaceOptions{});
        mash::mesh::PoissonOptions po;
        po.depth = depth;
        tm = mash::mesh::poisson(s.points, s.normals, po);
    }
    at::Tensor V = at::tensor(tm.vertices, at::kDouble).reshape({tm.num_vertices(), 3});
    at::Tensor F = at::tensor(tm.triangles, at::kLong).reshape({tm.num_triangles(), 3});
    return py::make_tuple(V, F);
#endif
}

// The CPU rasterizer of `mash render`: a mesh and/or coloured point splats → uint8 [H, W·views, 3].
at::Tensor render(const at::Tensor& vertices, const at::Tensor& triangles, const at::Tensor& points,
                  const at::Tensor& point_colors, int width, int height, int views, double elevation, double azimuth) {
    if (width < 8 || height < 8 || width > 8192 || height > 8192 || views < 1 || views > 64)
        throw mash::ConfigError("render: width/height 8..8192 and views 1..64 expected");
    mash::pictures::RenderScene sc;
    sc.vertices = to_vector(vertices);
    if (triangles.numel() > 0) {
        const at::Tensor t = triangles.to(at::kCPU, at::kLong).contiguous();
        sc.triangles.assign(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
        const int64_t nv = int64_t(sc.vertices.size() / 3);
        if (t.min().item<int64_t>() < 0 || t.max().item<int64_t>() >= nv)
            throw mash::InputError("render: face indices must be in [0, " + std::to_string(nv) + ")");
    }
    sc.points = to_vector(points);
    if (point_colors.numel() > 0) {
        const at::Tensor c = point_colors.to(at::kCPU, at::kByte).contiguous();
        sc.point_colors.assign(c.data_ptr<uint8_t>(), c.data_ptr<uint8_t>() + c.numel());
    }
    mash::pictures::RenderOptions o;
    o.width = width;
    o.height = height;
    o.views = views;
    o.elevation_deg = elevation;
    o.azimuth_offset_deg = azimuth;
    std::vector<unsigned char> img;
    {
        py::gil_scoped_release release;
        img = mash::pictures::render_views(sc, o);
    }
    return at::tensor(std::vector<uint8_t>(img.begin(), img.end()), at::kByte).reshape({height, int64_t(width) * views, 3});
}

at::Tensor id_colors(const at::Tensor& ids) {
    const at::Tensor i = ids.to(at::kCPU, at::kLong).contiguous();
    at::Tensor out = at::empty({i.numel(), 3}, at::kByte);
    for (int64_t k = 0; k < i.numel(); ++k) {
        const auto c = mash::pictures::id_color(i.data_ptr<int64_t>()[k]);
        for (int j = 0; j < 3; ++j) out.data_ptr<uint8_t>()[3 * k + j] = c[size_t(j)];
    }
    return out;
}

class PyGenerator {
public:
    explicit PyGenerator(const std::string& path) : g_(mash::models::Generator::load(path)) {}
    std::vector<std::string> categories() const { return g_.categories; }
    std::string condition() const { return mash::config::name(g_.config.condition); }
    int64_t step() const { return g_.step; }
    int64_t num_anchors() const { return g_.num_anchors; }
    // parts: (rotate_vectors, positions, mask_params, sh_params, mask_degree, sh_degree, use_inverse, selection, name).
    py::list generate(const std::string& category, int64_t num, uint64_t seed, const std::string& solver, int64_t steps,
                      const std::string& image, const std::string& encoder, const py::list& parts,
                      const std::optional<at::Tensor>& noise, bool raw) {
        if (num < 1) throw mash::ConfigError("generate: num must be >= 1");
        if (raw && g_.ema_only) throw mash::ConfigError("generate: raw=True but the file holds only the EMA weights");
        mash::models::SampleRequest r;
        r.num = num;
        r.seed = seed;
        r.solver = mash::config::flag_choice<mash::models::Solver>(solver, "solver=");
        r.steps = steps;
        r.use_ema = !raw;
        const std::string cond = mash::config::name(g_.config.condition);
        if (cond == "image" && (image.empty() || encoder.empty()))
            throw mash::ConfigError("generate: this checkpoint is image-conditioned; pass image=PHOTO and encoder=ENCODER.pt");
        if (cond != "image" && !image.empty())
            throw mash::ConfigError("generate: image= needs an image-conditioned checkpoint (model.condition: image)");
        if (cond == "category") {
            if (category.empty())
                throw mash::ConfigError("generate: this checkpoint is category-conditioned; pass category=NAME");
            r.categories.assign(size_t(num), g_.category_index(category));
        } else if (!category.empty()) {
            throw mash::ConfigError("generate: category given but the model is " +
                                    std::string(cond == "image" ? "image-conditioned" : "unconditional"));
        }
        std::vector<mash::models::AnchorSource> sources;
        for (const auto& h : parts) {
            auto t = h.cast<py::tuple>();
            sources.push_back(
                {params_from(t[0].cast<at::Tensor>(), t[1].cast<at::Tensor>(), t[2].cast<at::Tensor>(), t[3].cast<at::Tensor>(),
                             t[4].cast<int64_t>(), t[5].cast<int64_t>(), t[6].cast<bool>()),
                 t[7].cast<std::string>(), t[8].cast<std::string>()});
        }
        if (noise) {
            const at::Tensor& n = *noise;
            if (n.dim() != 3 || n.size(0) != num || n.size(1) != g_.num_anchors || n.size(2) != g_.layout.channels())
                throw mash::InputError("generate: noise of shape " + std::string(c10::str(n.sizes())) + " (expected [" +
                                       std::to_string(num) + ", " + std::to_string(g_.num_anchors) + ", " +
                                       std::to_string(g_.layout.channels()) + "], normalized tokens)");
            r.noise = n.to(at::kFloat);
        }
        py::list out;
        {
            py::gil_scoped_release release;
            const mash::models::FrozenAnchors fz = mash::models::frozen_anchors(g_, sources);
            if (fz.count() > 0) r.fixed_tokens = mash::models::tokens_from_mash(fz.params);
            if (cond == "image") {
                at::Tensor t = mash::models::image_condition(g_, image, encoder);
                r.image_tokens = t.expand({num, t.size(1), t.size(2)}).contiguous();
            }
            const mash::models::SampleResult res = mash::models::sample(g_, r);
            std::vector<mash::MashParams> shapes;
            for (int64_t i = 0; i < num; ++i) shapes.push_back(mash::models::generated_shape(res.tokens[i], g_, fz));
            py::gil_scoped_acquire acquire;
            for (const auto& p : shapes) out.append(params_dict(p));
        }
        return out;
    }

private:
    mash::models::Generator g_;
};

}  // namespace

PYBIND11_MODULE(_C, m) {
    m.doc() = "mash C++ core (see the mash package for the Python API)";
    auto base = py::register_exception<mash::Error>(m, "MashError", PyExc_RuntimeError);
    py::register_exception<mash::IoError>(m, "MashIoError", base.ptr());
    py::register_exception<mash::InputError>(m, "MashInputError", base.ptr());
    py::register_exception<mash::ConfigError>(m, "MashConfigError", base.ptr());
    m.def("init_runtime", &mash::ops::init_runtime, py::arg("threads") = 0,
          "Intra-op threads (0 = all cores) and allocator settings");
    m.def("num_threads", &mash::ops::num_threads);
    m.def(
        "load_mash", [](const std::string& path) { return params_dict(mash::io::load_mash(path)); }, py::arg("path"));
    m.def(
        "save_mash",
        [](const std::string& path, const at::Tensor& rv, const at::Tensor& pos, const at::Tensor& mask, const at::Tensor& sh,
           int64_t K, int64_t L, bool inv) { mash::io::save_mash(path, params_from(rv, pos, mask, sh, K, L, inv)); },
        py::arg("path"), py::arg("rotate_vectors"), py::arg("positions"), py::arg("mask_params"), py::arg("sh_params"),
        py::arg("mask_degree"), py::arg("sh_degree"), py::arg("use_inverse"));
    m.def(
        "initial_params",
        [](int64_t A, int64_t K, int64_t L) {
            mash::MashOptions o;
            o.num_anchors = A;
            o.mask_degree = K;
            o.sh_degree = L;
            o.validate();
            return params_dict(mash::Mash(o, at::TensorOptions().dtype(at::kDouble))->to_params());
        },
        py::arg("anchors"), py::arg("mask_degree"), py::arg("sh_degree"));
    m.def("sampling_buffers", &sampling_buffers, py::arg("mask_degree"), py::arg("num_directions"), py::arg("num_boundary"),
          py::arg("dtype"), py::arg("device"));
    m.def("fit_file", &fit_file, py::arg("path"), py::arg("config"), py::arg("overrides"), py::arg("seed"), py::arg("device"));
    m.def("render", &render, py::arg("vertices"), py::arg("triangles"), py::arg("points"), py::arg("point_colors"),
          py::arg("width"), py::arg("height"), py::arg("views"), py::arg("elevation"), py::arg("azimuth"));
    m.def("id_colors", &id_colors, py::arg("ids"));
    m.def(
        "write_png",
        [](const std::string& path, const at::Tensor& image) {
            const at::Tensor img = image.to(at::kCPU, at::kByte).contiguous();
            if (img.dim() != 3 || img.size(2) != 3)
                throw mash::InputError(path + ": image of shape " + std::string(c10::str(img.sizes())) +
                                       " (expected [H, W, 3] uint8)");
            mash::pictures::write_png(path,
                                      std::vector<unsigned char>(img.data_ptr<uint8_t>(), img.data_ptr<uint8_t>() + img.numel()),
                                      int(img.size(1)), int(img.size(0)));
        },
        py::arg("path"), py::arg("image"));
    m.def("mesh", &mesh_params, py::arg("rotate_vectors"), py::arg("positions"), py::arg("mask_params"), py::arg("sh_params"),
          py::arg("mask_degree"), py::arg("sh_degree"), py::arg("use_inverse"), py::arg("depth"));
    py::class_<PyGenerator>(m, "Generator")
        .def(py::init<const std::string&>())
        .def_property_readonly("categories", &PyGenerator::categories)
        .def_property_readonly("condition", &PyGenerator::condition)
        .def_property_readonly("step", &PyGenerator::step)
        .def_property_readonly("num_anchors", &PyGenerator::num_anchors)
        .def("generate", &PyGenerator::generate, py::arg("category"), py::arg("num"), py::arg("seed"), py::arg("solver"),
             py::arg("steps"), py::arg("image"), py::arg("encoder"), py::arg("parts"), py::arg("noise"), py::arg("raw"));
    py::class_<Sampler>(m, "Sampler")
        .def(py::init<int64_t, int64_t, int64_t, int64_t, int64_t, double, bool, py::object, const std::string&>())
        .def("sample", &Sampler::sample);
}
