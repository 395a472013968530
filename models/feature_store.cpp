// SPDX-License-Identifier: MIT
#include "models/feature_store.h"

#include <ATen/ATen.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "mash/core/errors.h"
#include "mash/core/files.h"
#include "mash/core/hash.h"
#include "models/image_encoder.h"

namespace fs = std::filesystem;

namespace mash::models {

namespace {

int64_t element_bytes(const std::string& dtype) {
    if (dtype == "float32") return 4;
    if (dtype == "float16") return 2;
    throw ConfigError("feature store: unknown dtype '" + dtype + "' (expected float32 or float16)");
}

at::ScalarType scalar_type(const std::string& dtype) { return dtype == "float16" ? at::kHalf : at::kFloat; }

void pwrite_all(int fd, const void* data, size_t n, off_t offset, const std::string& what) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
        const ssize_t w = ::pwrite(fd, p, n, offset);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) throw IoError(what + ": write failed: " + std::strerror(errno));
        p += w;
        n -= static_cast<size_t>(w);
        offset += w;
    }
}

}  // namespace

std::string files_key(const std::vector<std::string>& files, const std::string& extra) {
    uint64_t h = kCacheKeyBasis;
    auto eat = [&](const std::string& s) {
        const unsigned char separator = 0xff;
        h = fnv1a(&separator, 1, fnv1a(s.data(), s.size(), h));
    };
    eat(extra);
    for (const auto& f : files) {
        struct stat st {};
        if (::stat(f.c_str(), &st) != 0) throw IoError(f + ": image not found");
        eat(f);
        eat(std::to_string(st.st_size));
        eat(std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec));
    }
    char s[17];
    std::snprintf(s, sizeof s, "%016llx", static_cast<unsigned long long>(h));
    return s;
}

int64_t FeatureStore::record_bytes() const { return spec_.tokens * spec_.width * element_bytes(spec_.dtype); }

std::unique_ptr<FeatureStore> FeatureStore::open(const std::string& dir, const FeatureStoreSpec& spec, bool create) {
    if (spec.count < 1 || spec.tokens < 1 || spec.width < 1)
        throw ConfigError("feature store: count, tokens and width must be >= 1");
    std::unique_ptr<FeatureStore> s(new FeatureStore());
    s->spec_ = spec;
    s->dir_ = dir;
    const int64_t rec = s->record_bytes();
    const fs::path meta = fs::path(dir) / "store.json", data = fs::path(dir) / "features.bin",
                   flags = fs::path(dir) / "filled.bin";
    nlohmann::json want = {{"format", "mash-feature-store"},
                           {"version", 1},
                           {"count", spec.count},
                           {"tokens", spec.tokens},
                           {"width", spec.width},
                           {"dtype", spec.dtype},
                           {"key", spec.key}};
    if (!fs::exists(meta)) {
        if (!create) throw IoError(dir + ": no feature store here (expected store.json)");
        fs::create_directories(dir);
        auto make = [&](const fs::path& p, int64_t bytes) {
            const int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
            if (fd < 0) throw IoError(p.string() + ": cannot create: " + std::strerror(errno));
            const int rc = ::ftruncate(fd, static_cast<off_t>(bytes));  // sparse: zero bytes, unfilled flags
            ::close(fd);
            if (rc != 0)
                throw IoError(p.string() + ": cannot size to " + std::to_string(bytes) + " bytes: " + std::strerror(errno));
        };
        make(data, spec.count * rec);
        make(flags, spec.count);
        const std::string text = want.dump(1);
        write_file_atomic(meta.string(), std::vector<uint8_t>(text.begin(), text.end()));  // last: the store exists
    } else {
        nlohmann::json have;
        try {
            auto bytes = read_file(meta.string());
            have = nlohmann::json::parse(std::string(bytes.begin(), bytes.end()));
        } catch (const std::exception& e) {
            throw IoError(meta.string() + ": damaged feature store description (expected JSON written by mash)");
        }
        if (have != want)
            throw IoError(dir + ": holds another feature store (" + have.dump() + "; expected " + want.dump() +
                          "): delete the folder or use another data.feature_cache");
        if (!fs::is_regular_file(data) || static_cast<int64_t>(fs::file_size(data)) != spec.count * rec ||
            !fs::is_regular_file(flags) || static_cast<int64_t>(fs::file_size(flags)) != spec.count)
            throw IoError(dir + ": features.bin / filled.bin missing or of the wrong size (expected " +
                          std::to_string(spec.count * rec) + " and " + std::to_string(spec.count) + " bytes)");
    }
    s->fd_ = ::open(data.c_str(), O_RDWR);
    s->flags_fd_ = ::open(flags.c_str(), O_RDWR);
    if (s->fd_ < 0 || s->flags_fd_ < 0) throw IoError(dir + ": cannot open the feature store: " + std::strerror(errno));
    s->map_bytes_ = static_cast<size_t>(spec.count * rec);
    s->map_ = ::mmap(nullptr, s->map_bytes_, PROT_READ, MAP_SHARED, s->fd_, 0);
    if (s->map_ == MAP_FAILED) {
        s->map_ = nullptr;
        throw IoError(dir + ": cannot map features.bin: " + std::strerror(errno));
    }
    return s;
}

FeatureStore::~FeatureStore() {
    if (map_) ::munmap(map_, map_bytes_);
    if (fd_ >= 0) ::close(fd_);
    if (flags_fd_ >= 0) ::close(flags_fd_);
}

std::vector<int64_t> FeatureStore::missing() const {
    std::vector<uint8_t> f(static_cast<size_t>(spec_.count));
    size_t got = 0;
    while (got < f.size()) {
        const ssize_t r = ::pread(flags_fd_, f.data() + got, f.size() - got, static_cast<off_t>(got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) throw IoError(dir_ + "/filled.bin: read failed");
        got += static_cast<size_t>(r);
    }
    std::vector<int64_t> m;
    for (int64_t i = 0; i < spec_.count; ++i)
        if (f[static_cast<size_t>(i)] != 1) m.push_back(i);
    return m;
}

void FeatureStore::write(int64_t first, const at::Tensor& tokens) {
    std::vector<int64_t> rows(static_cast<size_t>(tokens.dim() > 0 ? tokens.size(0) : 0));
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = first + static_cast<int64_t>(i);
    write_rows(rows, tokens);
}

void FeatureStore::write_rows(const std::vector<int64_t>& rows, const at::Tensor& tokens) {
    TORCH_CHECK(tokens.dim() == 3 && tokens.size(0) == static_cast<int64_t>(rows.size()) && tokens.size(1) == spec_.tokens &&
                    tokens.size(2) == spec_.width,
                "feature store: tokens must be [", rows.size(), ", ", spec_.tokens, ", ", spec_.width, "]");
    for (int64_t r : rows)
        if (r < 0 || r >= spec_.count)
            throw InputError(dir_ + ": record " + std::to_string(r) + " out of range (expected < " + std::to_string(spec_.count) +
                             ")");
    const at::Tensor t = tokens.to(at::kCPU, scalar_type(spec_.dtype)).contiguous();
    const int64_t rec = record_bytes();
    const std::string what = dir_ + "/features.bin";
    const char* src = static_cast<const char*>(t.data_ptr());
    for (size_t i = 0; i < rows.size(); ++i)
        pwrite_all(fd_, src + static_cast<int64_t>(i) * rec, static_cast<size_t>(rec), static_cast<off_t>(rows[i] * rec), what);
    if (::fdatasync(fd_) != 0) throw IoError(what + ": sync failed: " + std::strerror(errno));
    const uint8_t one = 1;
    for (int64_t r : rows) pwrite_all(flags_fd_, &one, 1, static_cast<off_t>(r), dir_ + "/filled.bin");
    if (::fdatasync(flags_fd_) != 0) throw IoError(dir_ + "/filled.bin: sync failed: " + std::strerror(errno));
}

at::Tensor FeatureStore::read(const at::Tensor& rows) const {
    const at::Tensor r = rows.to(at::kCPU, at::kLong).contiguous();
    const int64_t n = r.numel(), rec = record_bytes();
    at::Tensor out = at::empty({n, spec_.tokens, spec_.width}, at::TensorOptions().dtype(scalar_type(spec_.dtype)));
    const int64_t* idx = r.data_ptr<int64_t>();
    char* dst = static_cast<char*>(out.data_ptr());
    const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    for (int64_t i = 0; i < n; ++i) {
        if (idx[i] < 0 || idx[i] >= spec_.count)
            throw InputError(dir_ + ": record " + std::to_string(idx[i]) + " out of range (expected < " +
                             std::to_string(spec_.count) + ")");
        const char* src = static_cast<const char*>(map_) + idx[i] * rec;
        std::memcpy(dst + i * rec, src, static_cast<size_t>(rec));
        // Drop the pages from this process (they stay in the page cache): resident memory stays one batch.
        const uintptr_t a = reinterpret_cast<uintptr_t>(src) & ~(page - 1), b = reinterpret_cast<uintptr_t>(src) + rec;
        ::madvise(reinterpret_cast<void*>(a), b - a, MADV_DONTNEED);
    }
    return out.to(at::kFloat);
}

int64_t fill_feature_store(FeatureStore& store, ImageEncoder& encoder, const std::vector<std::string>& files, int rank, int world,
                           int64_t batch) {
    if (static_cast<int64_t>(files.size()) != store.spec().count)
        throw InputError(store.dir() + ": " + std::to_string(files.size()) + " views for a store of " +
                         std::to_string(store.spec().count) + " records");
    std::vector<int64_t> mine;
    for (int64_t i : store.missing())
        if (i % world == rank) mine.push_back(i);
    const auto t0 = std::chrono::steady_clock::now();
    int64_t done = 0, next_log = 0;
    for (size_t k = 0; k < mine.size();) {
        const size_t e = std::min(mine.size(), k + static_cast<size_t>(std::max<int64_t>(1, batch)));
        std::vector<int64_t> rows(mine.begin() + static_cast<std::ptrdiff_t>(k), mine.begin() + static_cast<std::ptrdiff_t>(e));
        std::vector<std::string> part;
        for (int64_t r : rows) part.push_back(files[static_cast<size_t>(r)]);
        store.write_rows(rows, encoder.encode_files(part, ""));
        done += static_cast<int64_t>(e - k);
        k = e;
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (s >= next_log || k == mine.size()) {
            spdlog::info("features: {}/{} views encoded into {} ({:.1f} views/s)", done, mine.size(), store.dir(),
                         done / std::max(s, 1e-9));
            next_log = static_cast<int64_t>(s) + 30;
        }
    }
    return done;
}

}  // namespace mash::models
