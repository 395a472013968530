// SPDX-License-Identifier: MIT
// Dataset layouts, sharding and manifests (torch-free TU).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "mash/core/errors.h"
#include "mash/dataset/dataset.h"
#include "tests/support/paths.h"

using namespace mash;
using namespace mash::dataset;
namespace fs = std::filesystem;

namespace {
void touch(const fs::path& p) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << "v 0 0 0\n";
}
}  // namespace

TEST_CASE("dataset: discovers the three layouts on fake trees", "[dataset]") {
    const fs::path root = fs::path(mash::test::temp_dir()) / "layouts";
    // ShapeNetCore.v2
    touch(root / "sn/03001627/aaa/models/model_normalized.obj");
    touch(root / "sn/03001627/bbb/models/model_normalized.obj");
    touch(root / "sn/02691156/ccc/models/model_normalized.obj");
    touch(root / "sn/02691156/ddd/models/other.obj");  // not a ShapeNet model file
    auto sn = discover((root / "sn").string(), Layout::kShapeNet);
    REQUIRE(sn.size() == 3);
    CHECK(sn[0].key() == "airplane/ccc");
    CHECK(sn[1].key() == "chair/aaa");
    CHECK(discover((root / "sn").string(), Layout::kShapeNet, {"chair"}).size() == 2);
    CHECK(discover((root / "sn").string(), Layout::kShapeNet, {"02691156"}).size() == 1);
    // Objaverse
    touch(root / "ob/glbs/000-001/u1.glb");
    touch(root / "ob/glbs/000-001/u2.glb");
    touch(root / "ob/glbs/000-002/u3.glb");
    auto ob = discover((root / "ob").string(), Layout::kObjaverse);
    REQUIRE(ob.size() == 3);
    CHECK(ob[2].key() == "000-002/u3");
    std::ofstream(root / "ids.txt") << "u1\nu3\n";
    CHECK(discover((root / "ob").string(), Layout::kObjaverse, {}, (root / "ids.txt").string()).size() == 2);
    // Flat: category = parent folder; unsupported files ignored.
    touch(root / "flat/chair/c1.obj");
    touch(root / "flat/chair/c2.ply");
    touch(root / "flat/lamp/l1.off");
    touch(root / "flat/lamp/readme.txt");
    auto fl = discover((root / "flat").string(), Layout::kFlat);
    REQUIRE(fl.size() == 3);
    CHECK(fl[2].key() == "lamp/l1");
    CHECK(output_path("/out", fl[0]) == "/out/chair/c1.npz");
    CHECK_THROWS_AS(discover((root / "missing").string(), Layout::kFlat), IoError);
    CHECK_THROWS_AS(parse_layout("shapenetv3"), ConfigError);
}

TEST_CASE("dataset: shards partition every id exactly once for N = 1..7", "[dataset][property]") {
    std::vector<ShapeEntry> all;
    for (int i = 0; i < 500; ++i) all.push_back({"id" + std::to_string(i * 7919), i % 3 ? "chair" : "lamp", ""});
    for (int64_t n = 1; n <= 7; ++n) {
        std::vector<int> hits(all.size(), 0);
        for (int64_t k = 0; k < n; ++k) {
            Shard s{k, n, "flag"};
            for (size_t i = 0; i < all.size(); ++i) hits[i] += s.contains(all[i]);
        }
        for (int h : hits) REQUIRE(h == 1);
    }
    // Stable: the hash does not depend on the process.
    CHECK(stable_hash("a") == 0xaf63dc4c8601ec8cull);  // FNV-1a 64 reference value
    CHECK(stable_hash("") == 14695981039346656037ull);
}

TEST_CASE("dataset: shard from flag, Slurm and Kubernetes environments", "[dataset]") {
    unsetenv("SLURM_ARRAY_TASK_ID");
    unsetenv("SLURM_ARRAY_TASK_COUNT");
    unsetenv("JOB_COMPLETION_INDEX");
    CHECK(resolve_shard("", 0).count == 1);
    auto s = resolve_shard("2/5", 0);
    CHECK((s.index == 2 && s.count == 5 && s.source == "flag"));
    CHECK_THROWS_AS(resolve_shard("5/5", 0), ConfigError);
    CHECK_THROWS_AS(resolve_shard("x", 0), ConfigError);
    setenv("SLURM_ARRAY_TASK_ID", "3", 1);
    setenv("SLURM_ARRAY_TASK_COUNT", "4", 1);
    s = resolve_shard("", 0);
    CHECK((s.index == 3 && s.count == 4 && s.source == "slurm"));
    unsetenv("SLURM_ARRAY_TASK_ID");
    unsetenv("SLURM_ARRAY_TASK_COUNT");
    setenv("JOB_COMPLETION_INDEX", "1", 1);
    CHECK_THROWS_WITH(resolve_shard("", 0), Catch::Contains("--shard-count"));
    s = resolve_shard("", 6);
    CHECK((s.index == 1 && s.count == 6 && s.source == "kubernetes"));
    unsetenv("JOB_COMPLETION_INDEX");
    CHECK(manifest_name(Shard{1, 6, "flag"}) == "manifest.shard-1-of-6.jsonl");
}

TEST_CASE("dataset: manifest lines round trip, a torn line is ignored", "[dataset]") {
    const std::string path = mash::test::temp_dir() + "/manifest_test.jsonl";
    fs::remove(path);
    ManifestLine a{"x1", "chair", "/d/x1.obj", "ok", 12.5, 300, 0.0017, "", {-1, -2, -3, 1, 2, 3.5}};
    ManifestLine b{"x2", "chair", "/d/x2.obj", "failed", 0.1, 0, -1, "x2.obj: empty geometry", {}};
    append_manifest(path, a);
    append_manifest(path, b);
    std::ofstream(path, std::ios::app) << "{\"id\": \"x3\", \"categ";  // killed mid-write
    int64_t malformed = 0;
    auto lines = read_manifest(path, &malformed);
    REQUIRE(lines.size() == 2);
    CHECK(malformed == 1);
    CHECK(lines[0].to_json() == a.to_json());
    CHECK(lines[0].bbox == a.bbox);
    CHECK(lines[1].bbox.empty());
    // Damage in the middle is skipped and counted too; wrong types and unknown statuses are malformed.
    auto parsed = parse_manifest(a.to_json() +
                                     "\n{\"id\": \"y\", \"category\": \"c\", \"status\": \"done\"}\n"
                                     "{\"id\": \"z\", \"category\": \"c\", \"status\": \"ok\", \"steps\": 1e300}\n" +
                                     b.to_json() + "\n",
                                 &malformed);
    CHECK(parsed.size() == 2);
    CHECK(malformed == 2);
    CHECK(lines[1].error == b.error);
    CHECK(lines[1].l1_cd == -1);
}

TEST_CASE("dataset: fit-dataset workers are spread over the visible GPUs", "[dataset]") {
    using mash::dataset::visible_gpus;
    CHECK(visible_gpus(nullptr, 0).empty());
    CHECK(visible_gpus(nullptr, 3) == std::vector<std::string>{"0", "1", "2"});
    // CUDA_VISIBLE_DEVICES respected: its ids (as written, UUIDs too), blanks dropped, at most `count`.
    CHECK(visible_gpus("2,5", 2) == std::vector<std::string>{"2", "5"});
    CHECK(visible_gpus(" 3 , ,GPU-8f2e", 4) == std::vector<std::string>{"3", "GPU-8f2e"});
    CHECK(visible_gpus("0,1,2,3", 2) == std::vector<std::string>{"0", "1"});
    CHECK(visible_gpus("", 2).empty());
}
