// SPDX-License-Identifier: MIT
// The mash C++ API in one header (the installed package: #include <mash/mash.h>, link mash::mash).
//   MashParams, Mash (the torch::nn::Module), load_mash / save_mash, the geometry types
//   (io::PointCloud, io::TriangleMesh) and their files, fitting a file, the losses, meshing, the
//   runtime settings (mash::ops::init_runtime) and the error types.
// The generator (training, sampling) is in <models/generator.h> and <models/trainer.h>.
#pragma once
#include "mash/core/errors.h"
#include "mash/core/mash_params.h"
#include "mash/fitting/fit_options.h"
#include "mash/fitting/pipeline.h"
#include "mash/io/geometry_io.h"
#include "mash/io/mash_file.h"
#include "mash/losses/losses.h"
#include "mash/mesh/extract.h"
#include "mash/ops/runtime.h"
#include "mash/representation/mash.h"
