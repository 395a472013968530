// SPDX-License-Identifier: MIT
// TrainConfig: the single source of defaults for `mash train` / `mash generate`. An experiment
// YAML lists only overrides, in sections data / model / objective / train / sample; unknown
// sections or keys are errors. Defaults follow generation-spec §2.1 (full size) and §4.1.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "mash/core/config_reader.h"

namespace mash::models {

// The enumerated settings; config::name(x) gives the name written in configs and checkpoints.
enum class Normalize { kBox, kNone };
enum class BatchOrder { kIid, kEpochs };
enum class CategoryTable { kDataset, kShapeNet55 };
enum class FeatureStorage { kRam, kDisk };
enum class FeatureDtype { kFloat32, kFloat16 };
enum class ImageAlpha { kDrop, kWhite };
enum class ConditionKind { kNone, kCategory, kImage };
enum class EncoderDtype { kFloat32, kBFloat16, kFloat16 };
enum class ImageProjection { kLinear, kNone };
enum class AnchorOrder { kNone, kCanonical };
enum class Objective { kFlowMatching, kEdm };
enum class OtPairs { kWithReplacement, kPermutation };
enum class Prediction { kVelocity, kData };
enum class TimeSampling { kUniform, kLogitNormal };
enum class ScheduleUnit { kSteps, kMicroBatches };
enum class LrSchedule { kConstant, kCosine };
enum class Precision { kFp32, kBf16 };
enum class Solver { kEuler, kHeun, kDopri5 };

const config::Choices<Normalize>& choices(Normalize);
const config::Choices<BatchOrder>& choices(BatchOrder);
const config::Choices<CategoryTable>& choices(CategoryTable);
const config::Choices<FeatureStorage>& choices(FeatureStorage);
const config::Choices<FeatureDtype>& choices(FeatureDtype);
const config::Choices<ImageAlpha>& choices(ImageAlpha);
const config::Choices<ConditionKind>& choices(ConditionKind);
const config::Choices<EncoderDtype>& choices(EncoderDtype);
const config::Choices<ImageProjection>& choices(ImageProjection);
const config::Choices<AnchorOrder>& choices(AnchorOrder);
const config::Choices<Objective>& choices(Objective);
const config::Choices<OtPairs>& choices(OtPairs);
const config::Choices<Prediction>& choices(Prediction);
const config::Choices<TimeSampling>& choices(TimeSampling);
const config::Choices<ScheduleUnit>& choices(ScheduleUnit);
const config::Choices<LrSchedule>& choices(LrSchedule);
const config::Choices<Precision>& choices(Precision);
const config::Choices<Solver>& choices(Solver);

struct TrainConfig {
    // data:
    std::string data_root;      ///< folder of MASH files (fit-dataset output); relative to the config file
    double val_fraction = 0.1;  ///< held-out shapes (0 → validate on the training shapes)
    int64_t max_val_shapes = 64;
    CategoryTable categories =
        CategoryTable::kDataset;  ///< category table: dataset (one row per folder found) | shapenet55 (the original's 55 synsets)
    Normalize normalize = Normalize::kBox;  ///< box: each shape centred, longest anchor-bbox side 1 (exact MASH scaling); none
    BatchOrder order = BatchOrder::kIid;    ///< training batches: iid (shapes drawn with replacement) | epochs (each epoch a
                                            ///< seeded permutation, without replacement; the original's order)
    std::string image_root;                 ///< image models: views IMAGE_ROOT/<category>/<id>/*.png|jpg (mash render-views)
    std::string feature_cache;              ///< encoder feature cache ("" = <output>/feature_cache)
    FeatureStorage image_features = FeatureStorage::kRam;  ///< image models: encoder tokens of every view in ram, or on disk (a
                                                           ///< memory-mapped store under the feature cache, read per batch)
    FeatureDtype feature_dtype =
        FeatureDtype::kFloat32;                  ///< how the tokens are kept: float32 | float16 (half the memory or disk)
    ImageAlpha image_alpha = ImageAlpha::kDrop;  ///< views with transparency: drop (the alpha channel ignored, the original's
                                                 ///< convert('RGB')) | white (composited onto white)
    // model:
    int64_t width = 512, depth = 24, heads = 8, time_channels = 256;
    int64_t context_dim = 512;
    ConditionKind condition = ConditionKind::kCategory;  ///< none | category | image
    double cond_dropout = 0.1;
    std::string encoder;      ///< TorchScript image encoder (condition: image), see models/image_encoder.h
    int64_t image_dim = 768;  ///< encoder token width (set from the encoder's sidecar when training)
    EncoderDtype encoder_dtype = EncoderDtype::kFloat32;  ///< the encoder runs in float32 | bfloat16 (the original's DINOv2) |
                                                          ///< float16; its tokens are cast back to float32
    ImageProjection image_projection =
        ImageProjection::kLinear;  ///< linear: bias-free encoder→context projection; none: tokens go
                                   ///< straight into the cross-attention (image_dim = context_dim; the released DINOv2 model)
    AnchorOrder anchor_order = AnchorOrder::kCanonical;  ///< none: permutation-equivariant (the paper); canonical: each shape's
                                                         ///< anchors sorted by the Morton code of their positions, a learned
                                                         ///< embedding per slot, noise paired by slot (no OT)
    // objective:
    Objective objective = Objective::kFlowMatching;  ///< flow_matching | edm
    bool completion_trick = true;                    ///< x0 replacement (flow matching) / clean fixed entries (EDM); category and
                                                     ///< unconditional models only: image models never use it (as the original)
    OtPairs ot_pairs = OtPairs::kWithReplacement;    ///< flow matching, anchor_order none: the A training pairs drawn from the
                                                     ///< per-shape OT matching with replacement (the paper) or all of them once
    Prediction prediction = Prediction::kData;       ///< flow matching: the network predicts velocity (the paper) | data (x1; the
                                                     ///< velocity (x̂1 − x_t)/(1 − t) follows; loss on x̂1)
    TimeSampling time_sampling =
        TimeSampling::kUniform;  ///< flow matching t: uniform (the paper) | logit_normal (σ(N(0,1)), more weight mid-path)
    double edm_p_mean = -1.2, edm_p_std = 1.2, edm_sigma_data = 1.0;
    // train:
    int64_t steps = 100000;         ///< optimizer steps (global)
    double time_limit_minutes = 0;  ///< stop (with a checkpoint) after this wall time; 0 = none
    int64_t batch_size = 12;        ///< per process
    double lr = 2e-4;
    int64_t lr_batch_size = 256;  ///< effective lr = lr · batch_size · world_size · accumulate / lr_batch_size
    int64_t accumulate = 1;       ///< micro-batches (of batch_size per process) per optimizer step
    ScheduleUnit schedule_unit = ScheduleUnit::kSteps;  ///< what warmup_steps and ema_ramp_steps count: steps (optimizer steps) |
                                                        ///< micro_batches (the original's way: steps · accumulate)
    int64_t warmup_steps = 2000;                        ///< linear warm-up from 0 (optimizer steps)
    LrSchedule lr_schedule = LrSchedule::kCosine;  ///< after the warm-up: constant (the paper) | cosine (to 0 at train.steps)
    double weight_decay = 0.01;
    double grad_clip = 1.0;
    double ema_start = 0.99, ema_end = 0.9999;
    int64_t ema_ramp_steps = 5000;
    uint64_t seed = 0;
    int64_t log_every = 10;
    int64_t val_every = 500;
    int64_t checkpoint_every = 1000;
    int64_t threads = 0;  ///< 0 = --threads / all cores
    Precision precision =
        Precision::kFp32;  ///< fp32 | bf16 (autocast of the forward and the loss; weights, AdamW and EMA stay fp32)
    // sample:
    Solver solver = Solver::kEuler;   ///< euler | heun | dopri5 (flow matching)
    int64_t sample_steps = 50;        ///< Euler/Heun steps; EDM Heun: N (2N−1 network calls)
    double rtol = 1e-4, atol = 1e-4;  ///< dopri5 (as the original)
    int64_t val_samples = 4;          ///< shapes sampled and rendered at each validation
    int64_t val_render_points = 4000;

    /// Throws ConfigError naming the key.
    void validate() const;
    /// The resolved config as YAML (all keys; stored in checkpoints).
    std::string to_yaml() const;
};

/// Loads `path` over the defaults; relative data paths are resolved against the config's folder.
TrainConfig load_train_config(const std::string& path);
/// Parses YAML text (as stored in a checkpoint); `what` names the source in errors.
TrainConfig parse_train_config(const std::string& text, const std::string& what, const std::string& base_dir = "");
/// --set section.key=value
void apply_train_override(TrainConfig& c, const std::string& assignment);
/// Sets the recipe settings to the paper's procedure (anchor order none, OT pairs with replacement,
/// velocity prediction, uniform t, constant learning rate): for imported released models and for
/// checkpoints written before these settings existed.
void use_paper_recipe(TrainConfig& c);

}  // namespace mash::models
