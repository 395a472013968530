// SPDX-License-Identifier: MIT
// Image features on disk: one record per view (the encoder's tokens [T, C] in float32 or float16),
// memory-mapped and read per batch, so training on many views does not hold them all in RAM.
//
// A store is a folder: `features.bin` (records back to back, little-endian), `filled.bin` (one
// byte per record, set once its record is on disk) and `store.json` (count, tokens, width, dtype,
// key). Filling is resumable (a record counts only once its flag is set, after its bytes were
// synced) and parallel (process r of w encodes the missing records i with i % w == r; records and
// flags are written with pwrite, never through the mapping). Reading copies the rows of a batch
// and releases their pages from this process (madvise), so the resident memory stays about one
// batch of records whatever the store's size.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mash::models {

class ImageEncoder;

struct FeatureStoreSpec {
    int64_t count = 0, tokens = 0, width = 0;
    std::string dtype = "float32";  ///< float32 | float16
    std::string key;                ///< what the features are of (encoder, preprocessing, files); a mismatch is an error
};

class FeatureStore {
public:
    /// Opens the store in `dir`. If it does not exist and `create` is set, makes an empty one (all
    /// records missing). Throws IoError naming the folder if it exists with another spec or is damaged.
    static std::unique_ptr<FeatureStore> open(const std::string& dir, const FeatureStoreSpec& spec, bool create);
    ~FeatureStore();
    const FeatureStoreSpec& spec() const { return spec_; }
    const std::string& dir() const { return dir_; }
    int64_t record_bytes() const;
    /// Records whose flag is not set yet (read from disk: sees other processes' writes).
    std::vector<int64_t> missing() const;
    /// Writes tokens [n, T, C] (any float dtype) as records first .. first + n − 1, syncs them,
    /// then sets their flags.
    void write(int64_t first, const at::Tensor& tokens);
    /// The same for any record indices: tokens[i] becomes record rows[i].
    void write_rows(const std::vector<int64_t>& rows, const at::Tensor& tokens);
    /// float32 [n, T, C] for the given record indices (int64 [n]); every record must be filled.
    at::Tensor read(const at::Tensor& rows) const;

private:
    FeatureStore() = default;
    FeatureStoreSpec spec_;
    std::string dir_;
    int fd_ = -1, flags_fd_ = -1;
    void* map_ = nullptr;
    size_t map_bytes_ = 0;
};

/// Encodes the views of `files` (record i = files[i]) missing from the store, this process taking
/// those with i % world == rank, in batches; logs progress. Returns how many it encoded.
int64_t fill_feature_store(FeatureStore& store, ImageEncoder& encoder, const std::vector<std::string>& files, int rank, int world,
                           int64_t batch = 8);

/// FNV-1a 64 over the files' paths, sizes and modification times, plus `extra`, as 16 hex digits:
/// the key of a store built from those files.
std::string files_key(const std::vector<std::string>& files, const std::string& extra);

}  // namespace mash::models
