// SPDX-License-Identifier: MIT
// Procedural shapes that break local orientation, closed triangle meshes with known
// geometry. Torch-free.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "mash/mesh/topology.h"

namespace mash::mesh {

/// A (p, q) torus knot (centreline on a torus of radii 1 and 0.5) whose tube is a twisted rope:
/// cross-section radius tube·(1 + ridge·cos(k(φ + turns·t))), k = `ridges` ridges that make
/// `turns` full turns along the knot. One closed genus-1 component.
TriangleMesh rope_knot(int p = 2, int q = 3, double tube = 0.18, int ridges = 5, double ridge = 0.25, int turns = 3,
                       int segments = 720, int around = 48);
/// A hemispherical bowl of outer radius `radius` and wall thickness `thickness` (outer and inner
/// walls joined by a rounded rim). One closed genus-0 component.
TriangleMesh thin_bowl(double radius = 0.5, double thickness = 0.01, int rings = 160, int segments = 192);
/// A sphere of radius r_outer with a hollow of radius r_inner whose centre is offset by `offset`
/// along x (two components: the outer surface and the inner one, facing inward).
TriangleMesh nested_spheres(double r_outer = 0.5, double r_inner = 0.3, double offset = 0.05, int rings = 96, int segments = 128);
/// Two spheres of radius r, `gap` apart (two components). The default gap, 2 % of the size, is
/// about 4.5 voxels of the default Poisson depth (8); at 1 % Poisson bridges the parts at times.
TriangleMesh touching_spheres(double r = 0.25, double gap = 0.02, int rings = 96, int segments = 128);

/// The shape by name: rope_knot, thin_bowl, nested_spheres, touching_spheres (defaults above);
/// throws ConfigError for an unknown name. Also the expected number of components.
TriangleMesh procedural_shape(const std::string& name, int64_t* components = nullptr);
std::vector<std::string> procedural_shape_names();

/// A member of a procedural shape family (chair, table, mug, lamp, airplane): closed primitives
/// (boxes, frusta, ellipsoids, tori; one component each, touching or overlapping) with proportions
/// and optional parts drawn from `seed`, y up, about 1–3 units in size. Same seed, same mesh.
/// Throws ConfigError for an unknown family.
TriangleMesh family_shape(const std::string& family, uint64_t seed);
std::vector<std::string> shape_family_names();

}  // namespace mash::mesh
