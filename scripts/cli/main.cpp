// SPDX-License-Identifier: MIT
// The `mash` command-line tool: one executable, one subcommand per job.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>

#include "mash/core/runtime.h"
#include "scripts/cli/commands.h"

int main(int argc, char** argv) {
    mash::ensure_passive_openmp(argv);
    mash::init_runtime(0);  // malloc tuning first; threads are set again from --threads
    using namespace mash::cli;
    CLI::App app{"mash — Masked Anchored SpHerical Distances: fit, sample, mesh and generate 3D shapes"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("mash ") + MASH_VERSION);

    InfoArgs info;
    auto* c_info = app.add_subcommand("info", "Summarize a MASH file (.npz or original .npy)");
    c_info->add_option("file", info.input, "MASH file")->required();
    c_info->add_flag("--json", info.json, "Print the summary as JSON");
    add_global_flags(*c_info, info.global);

    SampleArgs sample;
    auto* c_sample = app.add_subcommand("sample", "Sample a MASH (or a mesh's surface) into a point cloud");
    c_sample->add_option("file", sample.input, "MASH file (.npz/.npy), or a mesh / point cloud")->required();
    c_sample->add_option("--seed", sample.seed, "Surface sampling seed (mesh input)")->capture_default_str();
    c_sample->add_option("-o,--output", sample.output, "Output point cloud (.ply .pcd .xyz .pts .npy)")->required();
    c_sample
        ->add_option("-n,--num-points", sample.num_points, "Farthest-point subsample to N points (default: all sampled points)")
        ->check(CLI::NonNegativeNumber);
    c_sample->add_option("--directions", sample.num_directions, "Fibonacci directions per anchor (default 1000)")
        ->check(CLI::NonNegativeNumber);
    c_sample->add_option("--boundary", sample.num_boundary, "Boundary samples per anchor (default 90)")
        ->check(CLI::NonNegativeNumber);
    c_sample->add_flag("--no-fps", sample.no_fps, "Keep all in-mask rays (skip the per-anchor 0.8 FPS)");
    add_global_flags(*c_sample, sample.global);

    FitArgs fit;
    auto* c_fit = app.add_subcommand("fit", "Fit a MASH to a mesh or point cloud");
    c_fit
        ->add_option("input", fit.input,
                     "Mesh (.obj .off .ply .stl .glb .gltf) or point cloud (.ply .xyz .pts .pcd .off .npy .npz)")
        ->required();
    c_fit->add_option("-o,--output", fit.output, "Output MASH file (.npz; .npy = original pickled layout)")->required();
    c_fit->add_option("--config", fit.config, "YAML file with a 'fit:' section of overrides (configs/fit/*.yaml)");
    c_fit->add_option("--set", fit.set, "Override one option: key=value (repeatable), e.g. --set lr=1e-3");
    c_fit->add_option("--anchors", fit.anchors, "Number of anchors (default 400, from the config)");
    c_fit->add_option("--points-out", fit.points_out, "Also write the fitted MASH's sample points (.ply ...)");
    c_fit->add_option("--report", fit.report, "Write a JSON report (time, steps, losses, L1/L2-CD, F-score)");
    c_fit->add_option("--plot", fit.plot, "Write the loss curve as a PNG");
    c_fit->add_option("--seed", fit.seed, "Random seed (surface sampling, subsampling)")->capture_default_str();
    add_global_flags(*c_fit, fit.global);

    MeshArgs mesh;
    auto* c_mesh =
        app.add_subcommand("mesh", "MASH (or, with --from-points, a point cloud) → watertight mesh (screened Poisson)");
    c_mesh->add_option("input", mesh.input, "MASH file (.npz/.npy), or a point cloud with --from-points")->required();
    c_mesh->add_option("-o,--output", mesh.output, "Output mesh (.ply .obj .off .stl)")->required();
    c_mesh->add_option("--depth", mesh.depth, "Poisson octree depth")->capture_default_str();
    c_mesh->add_option("--trim", mesh.trim, "Remove vertices below this density quantile (0 keeps it watertight)")
        ->capture_default_str();
    c_mesh
        ->add_option("--thin-offset", mesh.thin_offset,
                     "Samples that do not bound a solid (open sheets, thin walls: the winding field is not 1 behind and 0 "
                     "in front) become slabs of ± this many Poisson voxels: thin closed shells, not capped volumes (0: off)")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 8.0));
    c_mesh
        ->add_option("--open-sheet", mesh.open_membrane,
                     "If more than this share of the winding field's 1/2-level set lies away from the samples (a "
                     "cup-shaped open sheet, whose opening Poisson would close with a membrane), the thin step's "
                     "threshold is lowered step by step until it is not (0: never)")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 1.0));
    c_mesh
        ->add_option("--sample-cell", mesh.cell_voxels,
                     "Poisson's input keeps one sample per cell of this many Poisson voxels on each side of the "
                     "surface (dense MASH samples of overlapping patches: faster, no loss; 0 keeps every sample)")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 8.0));
    c_mesh
        ->add_option("--orient", mesh.orient,
                     "Orientation: winding (global winding-number cue) or graph (the earlier local method)")
        ->capture_default_str();
    auto* o_normals =
        c_mesh
            ->add_option("--normals", mesh.normals,
                         "MASH normals: points (the MASH's samples as a point cloud, PCA normals oriented like --from-points; "
                         "the original's later M+M) or patches (patch normals, one sign per patch)")
            ->capture_default_str();
    c_mesh
        ->add_flag("--from-points", mesh.from_points,
                   "Input is a point cloud: PCA normals + Poisson (SPR baseline); clouds of more than " +
                       std::to_string(mash::mesh::kMaxOrientedPoints) + " points are oriented on an FPS subset of that many")
        ->excludes(o_normals);
    c_mesh->add_option("--num-points", mesh.num_points,
                       "Oriented samples fed to Poisson (MASH: samples kept, default " +
                           std::to_string(mash::mesh::MashSurfaceOptions{}.num_points) +
                           ", or with --normals patches the per-patch grid; --from-points: surface samples of a mesh, "
                           "default 100000)");
    c_mesh->add_option("--grid", mesh.grid_phi, "With --normals patches: azimuth samples per patch (polar = 2/3 of it)")
        ->capture_default_str();
    add_global_flags(*c_mesh, mesh.global);

    EvalArgs eval;
    ShapeArgs shape;
    auto* c_shape =
        app.add_subcommand("shape",
                           "Write a procedural shape (closed mesh): rope_knot, thin_bowl, nested_spheres, touching_spheres, "
                           "or a member of a family: chair, table, mug, lamp, airplane (--seed)");
    c_shape->add_option("name", shape.name, "Shape or family name")->required();
    c_shape->add_option("--seed", shape.seed, "Family member (proportions and optional parts drawn from it)")
        ->capture_default_str();
    c_shape->add_option("-o,--output", shape.output, "Output mesh (.ply .obj .off .stl)")->required();
    add_global_flags(*c_shape, shape.global);

    auto* c_eval = app.add_subcommand("eval", "Compare two shapes (mesh / point cloud / MASH): L1-CD, L2-CD, F-score, NC");
    c_eval->add_option("pred", eval.pred, "Predicted shape")->required();
    c_eval->add_option("gt", eval.gt, "Ground-truth shape")->required();
    c_eval->add_option("--num-points", eval.num_points, "Points sampled from each shape")->capture_default_str();
    c_eval->add_option("--json", eval.json, "Also write the metrics to this JSON file");
    c_eval->add_option("--normalize", eval.normalize, "bbox: map GT's bbox to longest side 1, centered (both shapes); none")
        ->capture_default_str();
    c_eval->add_option("--tau", eval.tau, "F-score thresholds, comma separated (after normalization)")->capture_default_str();
    add_global_flags(*c_eval, eval.global);

    RenderArgs render;
    auto* c_render = app.add_subcommand("render", "Render a mesh, point cloud or MASH to a PNG (CPU, no display)");
    c_render->add_option("inputs", render.inputs, "Mesh, point cloud or MASH file(s); several make a grid")->required();
    c_render->add_option("--columns", render.columns, "Grid columns when several inputs are given")->capture_default_str();
    c_render->add_option("-o,--output", render.output, "Output PNG")->required();
    c_render->add_option("--views", render.views, "Views around the object, side by side")->capture_default_str();
    c_render->add_option("--size", render.size, "Size of each view, WxH")->capture_default_str();
    add_global_flags(*c_render, render.global);

    DatasetArgs ds;
    auto* c_ds = app.add_subcommand("fit-dataset", "Fit every shape of a dataset (resumable, parallel, sharded)");
    c_ds->add_option("--input", ds.input, "Dataset root");
    c_ds->add_option("--output", ds.output, "Output root: OUT/<category>/<id>.npz + manifest.jsonl");
    auto* layout_opt = c_ds->add_option("--layout", ds.layout, "shapenet | objaverse | flat")->capture_default_str();
    c_ds->add_option("--config", ds.config, "YAML with a 'dataset:' section and/or 'fit:' overrides (configs/dataset/)");
    c_ds->add_option("--set", ds.set, "Fit option override key=value (repeatable)");
    c_ds->add_option("--workers", ds.workers,
                     "Worker processes (threads are split between them; default 1, on GPUs 4 per visible GPU)");
    c_ds->add_option("--shard", ds.shard, "Process shard I of N (I/N); default: Slurm/Kubernetes env, else all");
    c_ds->add_option("--shard-count", ds.shard_count, "Shard count for a Kubernetes Indexed Job (JOB_COMPLETION_INDEX)");
    c_ds->add_option("--limit", ds.limit, "Process at most M shapes (after sharding)");
    c_ds->add_option("--categories", ds.categories, "Comma-separated categories (names or ShapeNet synset ids)");
    c_ds->add_option("--ids", ds.ids, "Objaverse: file with one uid per line");
    c_ds->add_option("--seed", ds.seed, "Random seed for every fit");
    c_ds->add_flag("--merge", ds.merge, "Merge OUT/manifest*.jsonl into OUT/manifest.jsonl; with --input, report missing shapes");
    c_ds->add_option("--worker", ds.worker, "(internal) worker w/K")->group("");
    add_global_flags(*c_ds, ds.global);

    TrainArgs train;
    auto* c_train =
        app.add_subcommand("train", "Train a MASH generator from a YAML experiment (multi-process via torchrun/Slurm env)");
    c_train->add_option("--config", train.config, "Experiment YAML (configs/train/, experiments/*/config.yaml)")->required();
    c_train->add_option("-o,--output", train.output, "Output folder (default: <config folder>/out)");
    c_train->add_flag("--resume", train.resume,
                      "Continue from OUTPUT/checkpoint.pt (its stored config; --set may change e.g. train.steps)");
    c_train->add_option("--set", train.set, "Override section.key=value (repeatable), e.g. --set train.steps=200");
    add_global_flags(*c_train, train.global);

    GenerateArgs gen;
    auto* c_gen =
        app.add_subcommand("generate", "Generate MASH shapes from a trained checkpoint (category, completion, blending)");
    c_gen->add_option("--checkpoint", gen.checkpoint, "checkpoint.pt written by `mash train`")->required();
    c_gen->add_option("-o,--output", gen.output, "Output folder: <category>_<i>.npz, samples.png, generate.json")->required();
    c_gen->add_option("--category", gen.category, "Category name, or 'all' (default for category models)");
    auto* gen_num = c_gen->add_option("--num", gen.num, "Shapes to generate (per category with 'all')")->capture_default_str();
    c_gen->add_option("--steps", gen.steps, "Sampler steps (default: the checkpoint's sample.steps)");
    c_gen->add_option("--solver", gen.solver, "euler | heun | dopri5 (flow matching; default: the checkpoint's)");
    c_gen->add_option("--seed", gen.seed, "Noise seed")->capture_default_str();
    c_gen->add_option("--complete", gen.complete, "Complete this partial MASH: its (selected) anchors stay frozen");
    c_gen->add_option("--keep-anchors", gen.keep_anchors, "Anchors of --complete to keep: ranges like 0-99,120");
    c_gen->add_option("--keep-box", gen.keep_box, "Keep the anchors of --complete inside xmin,ymin,zmin,xmax,ymax,zmax");
    c_gen->add_option("--blend", gen.blend, "FILE[:SEL] parts to blend (repeatable; SEL = ranges or box=...)");
    c_gen->add_option("--points", gen.points, "Also write N-point clouds (.ply)");
    c_gen->add_flag("--mesh", gen.mesh, "Also write watertight meshes (M+M route, screened Poisson)");
    c_gen->add_option("--mesh-depth", gen.mesh_depth, "Poisson depth for --mesh")->capture_default_str();
    c_gen->add_flag("--no-render", gen.no_render, "Skip samples.png");
    c_gen->add_flag("--raw", gen.raw, "Use the raw weights instead of the EMA weights");
    c_gen->add_option("--noise", gen.noise,
                      "Start from this noise instead of --seed's: .npy [num, anchors, width] or .npz with x_init "
                      "(normalized tokens, e.g. a sampling golden of the original)");
    c_gen->add_flag("--save-normalized", gen.save_normalized,
                    "Also write <category>_normalized.npy: the sampler's output tokens, "
                    "still normalized (float32 [num, anchors, width])");
    c_gen
        ->add_option("--encoder-dtype", gen.encoder_dtype,
                     "float32 | bfloat16 | float16 (default: the checkpoint's model.encoder_dtype)")
        ->check(CLI::IsMember({"float32", "bfloat16", "float16"}));
    c_gen
        ->add_option("--image-alpha", gen.image_alpha,
                     "drop | white: a transparent image's alpha (default: the checkpoint's data.image_alpha)")
        ->check(CLI::IsMember({"drop", "white"}));
    c_gen->add_option("--image", gen.image, "Condition image (PNG/JPG) for image-conditioned checkpoints");
    c_gen->add_option("--encoder", gen.encoder,
                      "TorchScript image encoder (+ .json sidecar), e.g. from scripts/export_dinov2.py");
    add_global_flags(*c_gen, gen.global);

    EvalGenArgs eg;
    auto* c_eg =
        app.add_subcommand("eval-gen", "Generation metrics: MMD-CD, COV-CD, 1-NNA (+ FID/KID with a TorchScript feature net)");
    c_eg->add_option("generated", eg.generated, "Folder of generated shapes (MASH / mesh / points)")->required();
    c_eg->add_option("reference", eg.reference, "Folder of reference shapes")->required();
    c_eg->add_option("--num-points", eg.num_points, "Points per shape")->capture_default_str();
    c_eg->add_option("--feature-net", eg.feature_net, "TorchScript network [B,N,3] -> [B,F] for FID/KID");
    c_eg->add_option("--normalize", eg.normalize, "none | unit (each cloud centred, bbox diagonal 1)")->capture_default_str();
    c_eg->add_option("--seed", eg.seed, "Point sampling seed")->capture_default_str();
    c_eg->add_option("--json", eg.json, "Also write the metrics to this JSON file");
    add_global_flags(*c_eg, eg.global);

    ImportOriginalArgs io_;
    auto* c_io = app.add_subcommand(
        "import-original", "Convert a released generator of the paper (model_last.pth + normalizer .pkl) to a mash checkpoint");
    c_io->add_option("--checkpoint", io_.checkpoint, "The original checkpoint (torch.save: model, ema_model, ...)")->required();
    c_io->add_option("--normalizer", io_.normalizer,
                     "The original normalizer (joblib .pkl, e.g. ShapeNet.pkl); without it: identity (eval-net only)");
    c_io->add_option("--weights", io_.weights, "ema (what the original samples with) | model")
        ->capture_default_str()
        ->check(CLI::IsMember({"ema", "model"}));
    c_io->add_option("--heads", io_.heads, "Attention heads (not stored in the tensors; the paper's models use 8)")
        ->capture_default_str();
    c_io->add_option("--condition", io_.condition, "auto (image if the context width is 768) | category | image")
        ->capture_default_str()
        ->check(CLI::IsMember({"auto", "category", "image"}));
    c_io->add_option("-o,--output", io_.output, "Output checkpoint (.pt)")->required();
    add_global_flags(*c_io, io_.global);

    EvalNetArgs en;
    auto* c_en =
        app.add_subcommand("eval-net", "Evaluate a checkpoint's denoiser on given inputs (x, t, category | cond_tokens) -> out");
    c_en->add_option("--checkpoint", en.checkpoint, "A mash checkpoint (mash train / mash import-original)")->required();
    c_en->add_option("--inputs", en.inputs,
                     ".npz with x [B,A,C] float32, t [B] or [] and category [B] int64 or cond_tokens [B,N,W]")
        ->required();
    c_en->add_option("-o,--output", en.output, "Output .npz with out [B,A,C] (float32)")->required();
    c_en->add_flag("--raw", en.raw, "Use the raw weights instead of the EMA weights");
    add_global_flags(*c_en, en.global);

    PreprocessImageArgs pi;
    auto* c_pi = app.add_subcommand("preprocess-image",
                                    "What an image encoder sees: the image as RGB, resized by PIL's bilinear filter "
                                    "(as the original) -> PNG or uint8 .npy");
    c_pi->add_option("--image", pi.image, "Input image (PNG/JPG)")->required();
    c_pi->add_option("--size", pi.size, "Output size S (S x S; the encoder's input_size, 518 for DINOv2)")->capture_default_str();
    c_pi->add_option("--alpha", pi.alpha, "drop (the original's convert('RGB')) | white (composite onto white)")
        ->capture_default_str()
        ->check(CLI::IsMember({"drop", "white"}));
    c_pi->add_option("-o,--output", pi.output, "Output .png or .npy (uint8 [S, S, 3])")->required();
    add_global_flags(*c_pi, pi.global);

    SampleNetArgs sn;
    auto* c_sn = app.add_subcommand("sample-net",
                                    "Run the original's sampler (torchdiffeq dopri5) on given noise "
                                    "(x_init, condition, query_t[, fixed_rows]) -> traj, x1, nfe");
    c_sn->add_option("--checkpoint", sn.checkpoint, "A mash checkpoint (mash import-original, or trained with a paper preset)")
        ->required();
    c_sn->add_option("--inputs", sn.inputs,
                     ".npz with x_init [B,A,C] float32, condition (category ids int64 [B] or tokens [B,N,W]), "
                     "query_t [T] increasing from 0, optional fixed_rows (int)")
        ->required();
    c_sn->add_option("-o,--output", sn.output,
                     "Output .npz: traj [T,B,A,C], x1, nfe (+ traj_fixed, x1_fixed, nfe_fixed); normalized tokens")
        ->required();
    c_sn->add_flag("--raw", sn.raw, "Use the raw weights instead of the EMA weights");
    add_global_flags(*c_sn, sn.global);

    RenderViewsArgs rv;
    auto* c_rv = app.add_subcommand("render-views",
                                    "Render every dataset mesh from several viewpoints (training images for image conditioning)");
    c_rv->add_option("--input", rv.input, "Dataset root")->required();
    c_rv->add_option("--output", rv.output, "Output: OUT/<category>/<id>/000.png ... + cameras.json")->required();
    c_rv->add_option("--layout", rv.layout, "shapenet | objaverse | flat")->capture_default_str();
    c_rv->add_option("--categories", rv.categories, "Comma-separated categories");
    c_rv->add_option("--views", rv.views, "Views per shape (azimuth i*360/views)")->capture_default_str();
    c_rv->add_option("--size", rv.size, "Image size (square)")->capture_default_str();
    c_rv->add_option("--elevation", rv.elevation, "Camera elevation in degrees")->capture_default_str();
    c_rv->add_flag("--random", rv.random, "Random azimuth (0-360) and elevation (0-60) per view");
    c_rv->add_option("--seed", rv.seed, "Seed for --random")->capture_default_str();
    c_rv->add_option("--limit", rv.limit, "At most M shapes");
    add_global_flags(*c_rv, rv.global);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
        // A bad command line is bad input too: one "error:" line, exit code 2.
        std::cerr << "error: " << e.what() << " (expected the options of `mash <command> --help`)\n";
        return 2;
    }
    if (c_info->parsed()) return guarded([&] { return run_info(info); });
    if (c_sample->parsed()) return guarded([&] { return run_sample(sample); });
    if (c_fit->parsed()) return guarded([&] { return run_fit(fit); });
    if (c_shape->parsed()) return guarded([&] { return run_shape(shape); });
    if (c_mesh->parsed())
        return guarded([&] {
            mesh.grid_theta = mash::mesh::MashSurfaceOptions::polar_for(mesh.grid_phi);
            return run_mesh(mesh);
        });
    if (c_eval->parsed()) return guarded([&] { return run_eval(eval); });
    if (c_render->parsed()) return guarded([&] { return run_render(render); });
    if (c_train->parsed()) return guarded([&] { return run_train(train); });
    if (c_gen->parsed())
        return guarded([&] {
            gen.num_given = gen_num->count() > 0;
            return run_generate(gen);
        });
    if (c_sn->parsed()) return guarded([&] { return run_sample_net(sn); });
    if (c_pi->parsed()) return guarded([&] { return run_preprocess_image(pi); });
    if (c_rv->parsed()) return guarded([&] { return run_render_views(rv); });
    if (c_eg->parsed()) return guarded([&] { return run_eval_gen(eg); });
    if (c_io->parsed()) return guarded([&] { return run_import_original(io_); });
    if (c_en->parsed()) return guarded([&] { return run_eval_net(en); });
    if (c_ds->parsed())
        return guarded([&] {
            ds.layout_given = layout_opt->count() > 0;
            return run_fit_dataset(ds, std::vector<std::string>(argv, argv + argc));
        });
    return 2;
}
