// SPDX-License-Identifier: MIT
#include "mash/io/gltf.h"

#define TINYGLTF_IMPLEMENTATION
#define TINYGLTF_NO_STB_IMAGE
#define TINYGLTF_NO_STB_IMAGE_WRITE
#define TINYGLTF_NO_EXTERNAL_IMAGE
#include <draco/compression/decode.h>
#include <draco/core/decoder_buffer.h>
#include <tiny_gltf.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "mash/core/errors.h"
#include "mash/core/files.h"

namespace mash::io {
namespace {

constexpr int64_t kMaxVertices = 200000000;
constexpr int kByte = 5120, kUByte = 5121, kShort = 5122, kUShort = 5123, kUInt = 5125, kFloat = 5126;

/// Required extensions that change no geometry we read (materials, textures, lights) are fine;
/// the geometry ones we implement are listed; anything else required is refused.
bool supported_required_extension(const std::string& e) {
    if (e == "KHR_draco_mesh_compression" || e == "KHR_mesh_quantization") return true;
    for (const char* p : {"KHR_materials_", "KHR_texture_", "EXT_texture_", "KHR_lights_", "KHR_techniques_", "MSFT_texture_"})
        if (e.rfind(p, 0) == 0) return true;
    return false;
}

int component_size(int type) {
    switch (type) {
        case kByte:
        case kUByte:
            return 1;
        case kShort:
        case kUShort:
            return 2;
        case kUInt:
        case kFloat:
            return 4;
        default:
            return 0;
    }
}

double component(const uint8_t* p, int type, bool normalized) {
    switch (type) {
        case kFloat: {
            float f;
            std::memcpy(&f, p, 4);
            return f;
        }
        case kByte: {
            const double v = int8_t(p[0]);
            return normalized ? std::max(v / 127.0, -1.0) : v;
        }
        case kUByte: {
            const double v = p[0];
            return normalized ? v / 255.0 : v;
        }
        case kShort: {
            int16_t s;
            std::memcpy(&s, p, 2);
            return normalized ? std::max(s / 32767.0, -1.0) : double(s);
        }
        case kUShort: {
            uint16_t s;
            std::memcpy(&s, p, 2);
            return normalized ? s / 65535.0 : double(s);
        }
        case kUInt: {
            uint32_t u;
            std::memcpy(&u, p, 4);
            return normalized ? u / 4294967295.0 : double(u);
        }
        default:
            return 0;
    }
}

// ---- JSON pre-pass: schema types, required extensions, Draco primitives -------------------------

/// Expected JSON type of a member, by its name (and its parent's name where names are reused).
enum class Want { kAny, kString, kUint, kNumber, kObject, kArray, kBool };

Want expected_type(const std::string& parent, const std::string& key) {
    static const std::set<std::string> strings = {"name",      "uri",       "type",       "mimeType",      "alphaMode", "version",
                                                  "generator", "copyright", "minVersion", "interpolation", "path"};
    static const std::set<std::string> uints = {
        "index", "texCoord",      "scene", "mesh",      "buffer",    "bufferView", "byteOffset", "byteLength", "byteStride",
        "count", "componentType", "mode",  "indices",   "material",  "source",     "sampler",    "skin",       "camera",
        "input", "output",        "node",  "magFilter", "minFilter", "wrapS",      "wrapT",      "skeleton",   "target"};
    static const std::set<std::string> numbers = {"strength", "metallicFactor", "roughnessFactor", "alphaCutoff", "yfov",
                                                  "zfar",     "znear",          "aspectRatio",     "xmag",        "ymag"};
    static const std::set<std::string> objects = {"extensions",
                                                  "asset",
                                                  "attributes",
                                                  "sparse",
                                                  "pbrMetallicRoughness",
                                                  "normalTexture",
                                                  "occlusionTexture",
                                                  "emissiveTexture",
                                                  "baseColorTexture",
                                                  "metallicRoughnessTexture",
                                                  "values",
                                                  "perspective",
                                                  "orthographic"};
    static const std::set<std::string> arrays = {"scenes",      "nodes",      "meshes",          "accessors",
                                                 "bufferViews", "buffers",    "materials",       "textures",
                                                 "images",      "samplers",   "cameras",         "skins",
                                                 "animations",  "primitives", "children",        "matrix",
                                                 "translation", "rotation",   "weights",         "min",
                                                 "max",         "targets",    "extensionsUsed",  "extensionsRequired",
                                                 "joints",      "channels",   "baseColorFactor", "emissiveFactor"};
    if (parent == "attributes" || (parent == "targets")) return Want::kUint;  // attribute name → accessor
    if (key == "scale") return parent == "node" ? Want::kArray : Want::kNumber;
    if (key == "target") return parent == "channel" ? Want::kObject : Want::kUint;
    if (key == "normalized") return Want::kBool;
    if (key == "nodes" && parent == "scene") return Want::kArray;
    if (key == "indices" && parent == "sparse") return Want::kObject;
    if (strings.count(key)) return Want::kString;
    if (uints.count(key)) return Want::kUint;
    if (numbers.count(key)) return Want::kNumber;
    if (objects.count(key)) return Want::kObject;
    if (arrays.count(key)) return Want::kArray;
    return Want::kAny;
}

const char* want_name(Want w) {
    switch (w) {
        case Want::kString:
            return "a string";
        case Want::kUint:
            return "a non-negative integer";
        case Want::kNumber:
            return "a number";
        case Want::kObject:
            return "an object";
        case Want::kArray:
            return "an array";
        case Want::kBool:
            return "a boolean";
        default:
            return "anything";
    }
}

bool is(const nlohmann::json& v, Want w) {
    switch (w) {
        case Want::kString:
            return v.is_string();
        case Want::kUint:
            return v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0);
        case Want::kNumber:
            return v.is_number();
        case Want::kObject:
            return v.is_object();
        case Want::kArray:
            return v.is_array();
        case Want::kBool:
            return v.is_boolean();
        default:
            return true;
    }
}

/// Singular of a collection name ("nodes" → "node"), the parent kind of its elements.
std::string element_kind(const std::string& collection) {
    static const std::map<std::string, std::string> k = {
        {"scenes", "scene"},           {"nodes", "node"},       {"meshes", "mesh"},        {"accessors", "accessor"},
        {"bufferViews", "bufferView"}, {"buffers", "buffer"},   {"materials", "material"}, {"primitives", "primitive"},
        {"channels", "channel"},       {"textures", "texture"}, {"images", "image"},       {"samplers", "sampler"},
        {"animations", "animation"}};
    auto it = k.find(collection);
    return it == k.end() ? collection : it->second;
}

void check_schema(const nlohmann::json& v, const std::string& where, const std::string& kind, int depth,
                  const std::function<void(const std::string&)>& fail) {
    if (depth > 64) fail("schema: " + where + " nests deeper than 64 levels");
    if (v.is_object()) {
        for (auto it = v.begin(); it != v.end(); ++it) {
            const std::string& key = it.key();
            const std::string at = where.empty() ? key : where + "." + key;
            if (kind == "extensions") {  // extension payloads are the extensions' business
                if (!it->is_object()) fail("schema: " + at + " is not an object");
                continue;
            }
            const Want w = expected_type(kind, key);
            if (!is(*it, w)) fail("schema: " + at + " is not " + want_name(w));
            if (key == "extras") continue;  // free-form
            check_schema(*it, at, (kind == "scene" && key == "nodes") ? "scene.nodes" : key, depth + 1, fail);
        }
    } else if (v.is_array()) {
        const std::string elem = element_kind(kind);
        const bool numeric = kind == "matrix" || kind == "translation" || kind == "rotation" || kind == "scale" ||
                             kind == "weights" || kind == "min" || kind == "max" || kind == "baseColorFactor" ||
                             kind == "emissiveFactor";
        const bool uint_list = kind == "children" || kind == "joints" || kind == "scene.nodes";
        for (size_t i = 0; i < v.size(); ++i) {
            const std::string at = where + "[" + std::to_string(i) + "]";
            if (numeric && !v[i].is_number()) fail("schema: " + at + " is not a number");
            if (uint_list && !is(v[i], Want::kUint)) fail("schema: " + at + " is not a non-negative integer");
            if ((kind == "extensionsUsed" || kind == "extensionsRequired") && !v[i].is_string())
                fail("schema: " + at + " is not a string");
            if (elem != kind && !v[i].is_object()) fail("schema: " + at + " is not an object");
            if (elem != kind) check_schema(v[i], at, elem, depth + 1, fail);
        }
    }
}

/// Checks the JSON (and the GLB container) before tinygltf sees it; returns the bytes to give it:
/// the same document with `indices` removed from Draco primitives (their indices come from the
/// Draco stream, which we decode ourselves; tinygltf 2.7 without Draco refuses such accessors).
std::vector<uint8_t> prepare(const std::vector<uint8_t>& bytes, bool binary, const std::string& path) {
    auto fail = [&](const std::string& why) -> void { throw IoError(path + ": not a readable glTF 2.0 file: " + why); };
    size_t json_begin = 0, json_len = bytes.size(), rest_begin = bytes.size();
    if (binary) {
        if (bytes.size() < 20) fail("truncated GLB header");
        uint32_t version, total, clen, ctype;
        std::memcpy(&version, bytes.data() + 4, 4);
        std::memcpy(&total, bytes.data() + 8, 4);
        std::memcpy(&clen, bytes.data() + 12, 4);
        std::memcpy(&ctype, bytes.data() + 16, 4);
        if (version != 2) fail("GLB version " + std::to_string(version) + " (expected 2)");
        if (total > bytes.size())
            fail("GLB header claims " + std::to_string(total) + " bytes, the file has " + std::to_string(bytes.size()));
        if (ctype != 0x4E4F534Au || uint64_t(clen) + 20 > total) fail("first GLB chunk is not a complete JSON chunk");
        json_begin = 20;
        json_len = clen;
        rest_begin = 20 + size_t(clen);
    }
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(bytes.begin() + long(json_begin), bytes.begin() + long(json_begin + json_len));
    } catch (const std::exception& e) {
        std::string w = e.what();
        fail("JSON: " + w.substr(0, w.find('\n')));
    }
    if (!j.is_object()) fail("the JSON is not an object");
    if (!j.contains("asset") || !j["asset"].is_object()) fail("no 'asset' object");
    check_schema(j, "", "", 0, [&](const std::string& why) { fail(why); });
    if (j.contains("extensionsRequired"))
        for (const auto& e : j["extensionsRequired"])
            if (!supported_required_extension(e.get<std::string>()))
                throw IoError(path + ": requires the glTF extension " + e.get<std::string>() +
                              ", which mash cannot read (supported: KHR_draco_mesh_compression, KHR_mesh_quantization; "
                              "material and texture extensions are ignored)");
    bool changed = false;
    if (j.contains("meshes"))
        for (auto& m : j["meshes"])
            if (m.contains("primitives"))
                for (auto& p : m["primitives"])
                    if (p.contains("extensions") && p["extensions"].contains("KHR_draco_mesh_compression") &&
                        p.contains("indices")) {
                        p.erase("indices");
                        changed = true;
                    }
    if (!changed) return bytes;
    std::string js = j.dump();
    while (js.size() % 4) js += ' ';
    if (!binary) return std::vector<uint8_t>(js.begin(), js.end());
    std::vector<uint8_t> out(20);
    const uint32_t total = uint32_t(20 + js.size() + (bytes.size() - rest_begin)), clen = uint32_t(js.size()), version = 2;
    std::memcpy(out.data(), "glTF", 4);
    std::memcpy(out.data() + 4, &version, 4);
    std::memcpy(out.data() + 8, &total, 4);
    std::memcpy(out.data() + 12, &clen, 4);
    std::memcpy(out.data() + 16, "JSON", 4);
    out.insert(out.end(), js.begin(), js.end());
    out.insert(out.end(), bytes.begin() + long(rest_begin), bytes.end());
    return out;
}

class Reader {
public:
    Reader(const tinygltf::Model& m, const std::string& path) : m_(m), path_(path) {}

    [[noreturn]] void fail(const std::string& what) const { throw IoError(path_ + ": " + what); }

    /// Bytes [offset, offset + stride·(count−1) + elem) of a buffer view, checked against the view
    /// and its buffer.
    const uint8_t* view_bytes(int view, uint64_t offset, uint64_t elem, uint64_t stride, uint64_t count,
                              const std::string& what) const {
        if (view < 0 || size_t(view) >= m_.bufferViews.size())
            fail(what + ": bufferView " + std::to_string(view) + " does not exist");
        const auto& v = m_.bufferViews[size_t(view)];
        if (v.buffer < 0 || size_t(v.buffer) >= m_.buffers.size())
            fail(what + ": buffer " + std::to_string(v.buffer) + " does not exist");
        const auto& b = m_.buffers[size_t(v.buffer)].data;
        if (count == 0) return b.data();
        const unsigned __int128 end = (unsigned __int128)offset + (unsigned __int128)stride * (count - 1) + elem;
        if (uint64_t(v.byteOffset) > b.size() || uint64_t(v.byteLength) > b.size() - v.byteOffset || end > v.byteLength)
            fail(what + ": reads past the end of bufferView " + std::to_string(view) +
                 " or its buffer (missing or short buffer)");
        return b.data() + v.byteOffset + offset;
    }

    /// An accessor as float64 [count × components] (normalized integers mapped to [−1, 1] or
    /// [0, 1]), with sparse substitution.
    std::vector<double> accessor(int index, int want_components, const std::string& what) const {
        if (index < 0 || size_t(index) >= m_.accessors.size())
            fail(what + ": accessor " + std::to_string(index) + " does not exist");
        const auto& a = m_.accessors[size_t(index)];
        const int nc = tinygltf::GetNumComponentsInType(uint32_t(a.type));
        const int cs = component_size(a.componentType);
        if (nc != want_components || cs == 0)
            fail(what + ": accessor " + std::to_string(index) + " has type " + std::to_string(a.type) + "/" +
                 std::to_string(a.componentType) + " (expected " + std::to_string(want_components) + " components)");
        if (a.count > (uint64_t(1) << 31)) fail(what + ": accessor " + std::to_string(index) + " count too large");
        const uint64_t elem = uint64_t(nc) * uint64_t(cs);
        // Nothing is allocated before the declared count is backed by bytes: a bufferView's bounds
        // are checked first; an accessor without one (zeros, possibly sparse) is capped.
        constexpr uint64_t kMaxImplicit = uint64_t(1) << 24;
        const uint8_t* p = nullptr;
        uint64_t stride = elem;
        if (a.bufferView >= 0) {
            if (size_t(a.bufferView) >= m_.bufferViews.size())
                fail(what + ": bufferView " + std::to_string(a.bufferView) + " does not exist");
            const auto& v = m_.bufferViews[size_t(a.bufferView)];
            stride = v.byteStride > 0 ? uint64_t(v.byteStride) : elem;
            if (stride < elem) fail(what + ": byteStride smaller than an element");
            p = view_bytes(a.bufferView, a.byteOffset, elem, stride, a.count, what);
        } else if (a.count > kMaxImplicit) {
            fail(what + ": accessor " + std::to_string(index) + " without a bufferView declares " + std::to_string(a.count) +
                 " elements (expected at most " + std::to_string(kMaxImplicit) + ")");
        }
        std::vector<double> out(a.count * size_t(nc), 0.0);
        if (p) {
            for (size_t i = 0; i < a.count; ++i)
                for (int c = 0; c < nc; ++c)
                    out[i * size_t(nc) + size_t(c)] =
                        component(p + i * stride + size_t(c) * size_t(cs), a.componentType, a.normalized);
        }
        if (a.sparse.isSparse) {
            const auto& s = a.sparse;
            if (s.count < 1 || uint64_t(s.count) > a.count) fail(what + ": sparse count out of range");
            const int ics = component_size(s.indices.componentType);
            if (ics == 0 || s.indices.componentType == kFloat || s.indices.componentType == kByte ||
                s.indices.componentType == kShort)
                fail(what + ": sparse indices must be unsigned integers");
            if (s.indices.byteOffset < 0 || s.values.byteOffset < 0) fail(what + ": negative sparse byteOffset");
            const uint8_t* ip = view_bytes(s.indices.bufferView, uint64_t(s.indices.byteOffset), uint64_t(ics), uint64_t(ics),
                                           uint64_t(s.count), what + " (sparse indices)");
            const uint8_t* vp = view_bytes(s.values.bufferView, uint64_t(s.values.byteOffset), elem, elem, uint64_t(s.count),
                                           what + " (sparse values)");
            for (int k = 0; k < s.count; ++k) {
                const double idx = component(ip + size_t(k) * size_t(ics), s.indices.componentType, false);
                if (!(idx >= 0 && idx < double(a.count))) fail(what + ": sparse index out of range");
                for (int c = 0; c < nc; ++c)
                    out[size_t(idx) * size_t(nc) + size_t(c)] =
                        component(vp + size_t(k) * elem + size_t(c) * size_t(cs), a.componentType, a.normalized);
            }
        }
        return out;
    }

    /// Index accessor (unsigned integer scalars).
    std::vector<int64_t> indices(int index, const std::string& what) const {
        if (index < 0 || size_t(index) >= m_.accessors.size())
            fail(what + ": index accessor " + std::to_string(index) + " does not exist");
        const int ct = m_.accessors[size_t(index)].componentType;
        if (ct != kUByte && ct != kUShort && ct != kUInt) fail(what + ": indices must be unsigned byte, short or int");
        if (m_.accessors[size_t(index)].normalized) fail(what + ": indices must not be normalized");
        const auto d = accessor(index, 1, what);
        return std::vector<int64_t>(d.begin(), d.end());
    }

private:
    const tinygltf::Model& m_;
    std::string path_;
};

Eigen::Matrix4d local_transform(const tinygltf::Node& n) {
    Eigen::Matrix4d M = Eigen::Matrix4d::Identity();
    if (n.matrix.size() == 16) {
        for (int c = 0; c < 4; ++c)
            for (int r = 0; r < 4; ++r) M(r, c) = n.matrix[size_t(4 * c + r)];  // column-major
        return M;
    }
    Eigen::Matrix4d T = Eigen::Matrix4d::Identity(), R = Eigen::Matrix4d::Identity(), S = Eigen::Matrix4d::Identity();
    if (n.translation.size() == 3)
        for (int k = 0; k < 3; ++k) T(k, 3) = n.translation[size_t(k)];
    if (n.rotation.size() == 4) {
        Eigen::Quaterniond q(n.rotation[3], n.rotation[0], n.rotation[1], n.rotation[2]);  // glTF stores x y z w
        if (q.norm() > 0) R.topLeftCorner<3, 3>() = q.normalized().toRotationMatrix();
    }
    if (n.scale.size() == 3)
        for (int k = 0; k < 3; ++k) S(k, k) = n.scale[size_t(k)];
    return T * R * S;
}

const char* mode_name(int mode) {
    switch (mode) {
        case 0:
            return "points";
        case 1:
            return "lines";
        case 2:
            return "line loop";
        case 3:
            return "line strip";
        default:
            return "unknown";
    }
}

/// A .gltf / .glb file parsed by tinygltf (images skipped). Throws IoError naming the file.
tinygltf::Model load_model(const std::string& path) {
    const auto bytes = read_file(path);
    tinygltf::TinyGLTF loader;
    loader.SetImageLoader(
        [](tinygltf::Image*, const int, std::string*, std::string*, int, int, const unsigned char*, int, void*) { return true; },
        nullptr);
    tinygltf::Model model;
    std::string err, warn;
    const std::string base = std::filesystem::path(path).parent_path().string();
    const bool binary = bytes.size() >= 4 && std::memcmp(bytes.data(), "glTF", 4) == 0;
    if (bytes.empty()) throw IoError(path + ": empty file (expected glTF 2.0 JSON or a GLB container)");
    const std::vector<uint8_t> doc = prepare(bytes, binary, path);
    bool ok = false;
    if (binary)
        ok = loader.LoadBinaryFromMemory(&model, &err, &warn, doc.data(), unsigned(doc.size()), base);
    else
        ok = loader.LoadASCIIFromString(&model, &err, &warn, reinterpret_cast<const char*>(doc.data()), unsigned(doc.size()),
                                        base);
    if (!ok) {
        std::string e = err.empty() ? "unreadable" : err;
        while (!e.empty() && (e.back() == '\n' || e.back() == ' ')) e.pop_back();
        std::replace(e.begin(), e.end(), '\n', ';');
        throw IoError(path + ": not a readable glTF 2.0 file: " + e);
    }
    return model;
}

/// The nodes a scene starts from: the default scene's, else every node that is no other node's
/// child. glTF node graphs are disjoint trees: a node with two parents is refused here (cycles are
/// caught while visiting).
std::vector<int> scene_roots(const tinygltf::Model& model, const Reader& rd) {
    std::vector<int> parents(model.nodes.size(), 0);
    for (const auto& n : model.nodes)
        for (int c : n.children) {
            if (c < 0 || size_t(c) >= parents.size())
                rd.fail("a node lists child " + std::to_string(c) + ", which does not exist");
            if (++parents[size_t(c)] > 1)
                rd.fail("node " + std::to_string(c) +
                        " has more than one parent (expected a tree of nodes; reuse meshes, not nodes)");
        }
    std::vector<int> roots;
    if (model.defaultScene >= 0) {
        if (size_t(model.defaultScene) >= model.scenes.size())
            rd.fail("default scene " + std::to_string(model.defaultScene) + " does not exist");
        roots = model.scenes[size_t(model.defaultScene)].nodes;
    } else {
        for (size_t i = 0; i < model.nodes.size(); ++i)
            if (parents[i] == 0) roots.push_back(int(i));
    }
    return roots;
}

/// A triangle primitive in its mesh's frame: positions and triangles (strips and fans converted),
/// indices and positions checked.
struct Decoded {
    std::vector<double> pos;   // local positions [V*3]
    std::vector<int64_t> tri;  // triangles
    bool draco = false;
};

/// Positions and indices of a KHR_draco_mesh_compression primitive.
void decode_draco(const tinygltf::Model& model, const Reader& rd, const tinygltf::Value& ext, const std::string& what,
                  std::vector<double>& pos, std::vector<int64_t>& idx) {
    const auto& bv = ext.Get("bufferView");
    const auto& attrs = ext.Get("attributes");
    if (!bv.IsInt() || !attrs.IsObject() || !attrs.Get("POSITION").IsInt())
        rd.fail(what + ": malformed KHR_draco_mesh_compression (expected bufferView and attributes.POSITION)");
    const int view = bv.Get<int>();
    const uint64_t len = size_t(view) < model.bufferViews.size() && view >= 0 ? model.bufferViews[size_t(view)].byteLength : 0;
    const uint8_t* p = rd.view_bytes(view, 0, len, len, 1, what + " (Draco)");
    draco::DecoderBuffer buf;
    buf.Init(reinterpret_cast<const char*>(p), size_t(len));
    draco::Decoder dec;
    auto res = dec.DecodeMeshFromBuffer(&buf);
    if (!res.ok()) rd.fail(what + ": Draco decoding failed: " + res.status().error_msg_string());
    std::unique_ptr<draco::Mesh> dm = std::move(res).value();
    const draco::PointAttribute* pa = dm->GetAttributeByUniqueId(uint32_t(attrs.Get("POSITION").Get<int>()));
    if (!pa || pa->num_components() != 3) rd.fail(what + ": Draco data has no 3-component POSITION attribute");
    pos.resize(size_t(dm->num_points()) * 3);
    for (draco::PointIndex i(0); i < dm->num_points(); ++i) {
        float v[3];
        if (!pa->ConvertValue<float>(pa->mapped_index(i), 3, v)) rd.fail(what + ": Draco POSITION not convertible");
        for (int k = 0; k < 3; ++k) pos[size_t(i.value()) * 3 + size_t(k)] = v[k];
    }
    for (draco::FaceIndex f(0); f < dm->num_faces(); ++f)
        for (int k = 0; k < 3; ++k) idx.push_back(dm->face(f)[k].value());
}

/// Decodes a triangle primitive (mode 4 triangles, 5 strip, 6 fan).
Decoded decode_triangles(const tinygltf::Model& model, const Reader& rd, const tinygltf::Primitive& prim, int mode,
                         const std::string& what) {
    Decoded fresh;
    std::vector<double>& pos = fresh.pos;
    std::vector<int64_t> idx;
    auto draco_it = prim.extensions.find("KHR_draco_mesh_compression");
    if (draco_it != prim.extensions.end()) {
        decode_draco(model, rd, draco_it->second, what, pos, idx);
        fresh.draco = true;
    } else {
        auto it = prim.attributes.find("POSITION");
        if (it == prim.attributes.end()) rd.fail(what + ": no POSITION attribute");
        pos = rd.accessor(it->second, 3, what + " POSITION");
        if (prim.indices >= 0) {
            idx = rd.indices(prim.indices, what + " indices");
        } else {
            idx.resize(pos.size() / 3);
            for (size_t i = 0; i < idx.size(); ++i) idx[i] = int64_t(i);
        }
    }
    const int64_t nv = int64_t(pos.size() / 3);
    for (size_t i = 0; i < idx.size(); ++i)
        if (idx[i] < 0 || idx[i] >= nv)
            rd.fail(what + ": index " + std::to_string(idx[i]) + " out of range (the primitive has " + std::to_string(nv) +
                    " vertices)");
    // Strips and fans to triangles (glTF winding rules).
    std::vector<int64_t>& tri = fresh.tri;
    if (mode == 4) {
        if (idx.size() % 3 != 0) rd.fail(what + ": " + std::to_string(idx.size()) + " triangle indices, not a multiple of 3");
        tri = std::move(idx);
    } else if (idx.size() >= 3) {
        for (size_t i = 0; i + 2 < idx.size(); ++i) {
            if (mode == 5) {
                if (i % 2 == 0)
                    tri.insert(tri.end(), {idx[i], idx[i + 1], idx[i + 2]});
                else
                    tri.insert(tri.end(), {idx[i + 1], idx[i], idx[i + 2]});
            } else {
                tri.insert(tri.end(), {idx[0], idx[i + 1], idx[i + 2]});
            }
        }
    }
    for (int64_t v = 0; v < nv; ++v)
        if (!std::isfinite(pos[size_t(3 * v)]) || !std::isfinite(pos[size_t(3 * v + 1)]) ||
            !std::isfinite(pos[size_t(3 * v + 2)]))
            rd.fail(what + ": vertex " + std::to_string(v) + " has a non-finite position");
    return fresh;
}

/// Walks the node trees and places every primitive instance in world space: triangles into the
/// geometry, POINTS primitives into a point cloud kept apart (used when the scene has no triangles).
class SceneAssembler {
public:
    SceneAssembler(const tinygltf::Model& model, const Reader& rd)
        : model_(model), rd_(rd), on_path_(model.nodes.size(), false) {}

    void visit(int ni, const Eigen::Matrix4d& parent, int depth) {
        if (ni < 0 || size_t(ni) >= model_.nodes.size()) rd_.fail("node " + std::to_string(ni) + " does not exist");
        if (on_path_[size_t(ni)]) rd_.fail("node " + std::to_string(ni) + " is its own ancestor (cyclic node hierarchy)");
        if (depth > 1000) rd_.fail("node hierarchy deeper than 1000 levels");
        const auto& node = model_.nodes[size_t(ni)];
        ++report_.nodes;
        const Eigen::Matrix4d M = parent * local_transform(node);
        if (!M.allFinite()) rd_.fail("node " + std::to_string(ni) + " has a non-finite transform");
        if (node.mesh >= 0) {
            if (size_t(node.mesh) >= model_.meshes.size())
                rd_.fail("node " + std::to_string(ni) + ": mesh " + std::to_string(node.mesh) + " does not exist");
            ++report_.mesh_instances;
            const auto& mesh = model_.meshes[size_t(node.mesh)];
            for (size_t pi = 0; pi < mesh.primitives.size(); ++pi) primitive(node.mesh, pi, M);
        }
        on_path_[size_t(ni)] = true;
        for (int c : node.children) visit(c, M, depth + 1);
        on_path_[size_t(ni)] = false;
    }

    /// The assembled geometry and the report; throws when the scene holds nothing to read.
    RawGeometry finish(GltfReport* report_out) {
        if (skipped_points_lines_ > 3)
            report_.notes.push_back("... " + std::to_string(skipped_points_lines_) + " point / line primitives skipped in all");
        if (g_.triangles.empty() && !point_cloud_.empty()) {  // a point cloud, as OBJ / PLY files of points are read
            g_.vertices = std::move(point_cloud_);
            report_.notes.push_back(std::to_string(point_primitives_) + " POINTS primitive" +
                                    (point_primitives_ == 1 ? "" : "s") + " read as a point cloud (" +
                                    std::to_string(g_.vertices.size() / 3) + " points)");
        } else if (point_primitives_ > 0) {
            report_.skipped_primitives += point_primitives_;
            report_.notes.push_back("points skipped: " + std::to_string(point_primitives_) + " POINTS primitive" +
                                    (point_primitives_ == 1 ? "" : "s") + " (the scene has triangles)");
        }
        if (g_.triangles.empty() && point_primitives_ == 0)
            rd_.fail("the scene holds no triangles or points (" + std::to_string(report_.nodes) + " nodes, " +
                     std::to_string(report_.mesh_instances) +
                     " mesh instances; expected at least one triangle or POINTS primitive)");
        if (report_out) *report_out = std::move(report_);
        return std::move(g_);
    }

private:
    void primitive(int mesh_index, size_t pi, const Eigen::Matrix4d& M) {
        const auto& prim = model_.meshes[size_t(mesh_index)].primitives[pi];
        const std::string what = "mesh " + std::to_string(mesh_index) + " primitive " + std::to_string(pi);
        const int mode = prim.mode < 0 ? 4 : prim.mode;
        if (mode == 0) return points(prim, M, what);
        if (mode < 4) {
            ++report_.skipped_primitives;
            ++skipped_points_lines_;
            if (skipped_points_lines_ <= 3)
                report_.notes.push_back(what + ": " + mode_name(mode) + " skipped (only triangles are surfaces)");
            return;
        }
        if (mode > 6) rd_.fail(what + ": primitive mode " + std::to_string(mode) + " (expected 0..6)");
        const uint64_t key = (uint64_t(mesh_index) << 32) | uint64_t(pi);
        auto cached = cache_.find(key);
        if (cached == cache_.end()) cached = cache_.emplace(key, decode_triangles(model_, rd_, prim, mode, what)).first;
        place(cached->second, M);
    }

    /// A POINTS primitive, in world space, onto the point cloud.
    void points(const tinygltf::Primitive& prim, const Eigen::Matrix4d& M, const std::string& what) {
        auto it = prim.attributes.find("POSITION");
        if (it == prim.attributes.end()) rd_.fail(what + ": no POSITION attribute");
        const std::vector<double> pos = rd_.accessor(it->second, 3, what + " POSITION");
        std::vector<int64_t> idx;
        if (prim.indices >= 0) idx = rd_.indices(prim.indices, what + " indices");
        const int64_t nv = int64_t(pos.size() / 3), n = prim.indices >= 0 ? int64_t(idx.size()) : nv;
        if (int64_t(point_cloud_.size() / 3) + n > kMaxVertices)
            rd_.fail("the assembled scene exceeds " + std::to_string(kMaxVertices) + " points");
        for (int64_t k = 0; k < n; ++k) {
            const int64_t v = prim.indices >= 0 ? idx[size_t(k)] : k;
            if (v < 0 || v >= nv)
                rd_.fail(what + ": index " + std::to_string(v) + " out of range (the primitive has " + std::to_string(nv) +
                         " vertices)");
            const double x = pos[size_t(3 * v)], y = pos[size_t(3 * v + 1)], z = pos[size_t(3 * v + 2)];
            if (!std::isfinite(x) || !std::isfinite(y) || !std::isfinite(z))
                rd_.fail(what + ": vertex " + std::to_string(v) + " has a non-finite position");
            for (int r = 0; r < 3; ++r) point_cloud_.push_back(M(r, 0) * x + M(r, 1) * y + M(r, 2) * z + M(r, 3));
        }
        ++point_primitives_;
    }

    /// One instance of a decoded triangle primitive, transformed by M, onto the geometry.
    void place(const Decoded& dc, const Eigen::Matrix4d& M) {
        if (dc.draco) ++report_.draco_primitives;
        const int64_t nv = int64_t(dc.pos.size() / 3);
        const std::vector<int64_t>& tri = dc.tri;
        const std::vector<double>& pos = dc.pos;
        const int64_t base_v = int64_t(g_.vertices.size() / 3);
        if (base_v + nv > kMaxVertices || int64_t(g_.triangles.size() + tri.size()) > 3 * kMaxVertices)
            rd_.fail("the assembled scene exceeds " + std::to_string(kMaxVertices) + " vertices (instanced too often?)");
        const size_t v0 = g_.vertices.size();
        g_.vertices.resize(v0 + size_t(3 * nv));
        for (int64_t v = 0; v < nv; ++v) {
            const double x = pos[size_t(3 * v)], y = pos[size_t(3 * v + 1)], z = pos[size_t(3 * v + 2)];
            for (int r = 0; r < 3; ++r) g_.vertices[v0 + size_t(3 * v + r)] = M(r, 0) * x + M(r, 1) * y + M(r, 2) * z + M(r, 3);
        }
        const size_t t0 = g_.triangles.size();
        g_.triangles.resize(t0 + tri.size());
        for (size_t k = 0; k < tri.size(); ++k) g_.triangles[t0 + k] = base_v + tri[k];
        ++report_.primitives;
    }

    const tinygltf::Model& model_;
    const Reader& rd_;
    std::vector<bool> on_path_;
    RawGeometry g_;
    GltfReport report_;
    std::map<uint64_t, Decoded> cache_;  // (mesh, primitive) → decoded once, placed per instance
    int64_t skipped_points_lines_ = 0, point_primitives_ = 0;
    std::vector<double> point_cloud_;  // world positions of POINTS primitives
};

}  // namespace

RawGeometry read_gltf(const std::string& path, GltfReport* report_out) {
    const tinygltf::Model model = load_model(path);
    Reader rd(model, path);
    const std::vector<int> roots = scene_roots(model, rd);
    SceneAssembler scene(model, rd);
    for (int r : roots) scene.visit(r, Eigen::Matrix4d::Identity(), 0);
    return scene.finish(report_out);
}

}  // namespace mash::io
