// SPDX-License-Identifier: MIT
#include "mash/formats/pickle.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <sstream>

#include "mash/core/errors.h"
#include "mash/formats/detail.h"
#include "mash/formats/zip.h"

namespace mash::formats {
using namespace detail;

// ---------------------------------------------------------------------------------------------
// Pickle: a strict subset VM for numpy object arrays of dicts.
namespace {

// Objects live in an arena owned by the Unpickler (a deque, so addresses are stable) and refer to
// each other by raw pointer: destruction is flat, so deeply nested or cyclic streams (which a
// hostile file can build with memo GET + APPEND) can neither overflow the stack nor leak.
struct PyObj;
using PyRef = PyObj*;

struct PyObj {
    enum Kind {
        kNone,
        kBool,
        kInt,
        kFloat,
        kBytes,
        kStr,
        kTuple,
        kList,
        kDict,
        kGlobal,
        kArray,
        kDtype,
        kMark,
        kStorage,
        kTensor
    };
    Kind kind = kNone;
    bool b = false;
    int64_t i = 0;
    double f = 0;
    std::string s;             // bytes, str, global name, dtype descr
    std::vector<PyRef> items;  // tuple/list; dict as key,value,key,value...
    // array
    std::vector<int64_t> shape;
    PyRef dtype;
    bool fortran = false;
    PyRef payload;  // bytes or list
    bool built = false;
    char byteorder = '|';
    // torch storage (s = record key, storage_type = e.g. "torch.FloatStorage", i = numel) and
    // tensor (storage, i = storage offset, shape, stride)
    std::string storage_type;
    std::vector<int64_t> stride;
    PyRef storage = nullptr;
};

/// The value of a string key in a dict object (or an object's attributes), or null.
PyRef dict_get(const PyRef& dict, const std::string& key) {
    for (size_t k = 0; k + 1 < dict->items.size(); k += 2)
        if (dict->items[k]->kind == PyObj::kStr && dict->items[k]->s == key) return dict->items[k + 1];
    return nullptr;
}

class Unpickler {
public:
    /// kNumpy: pickled numpy dicts (np.save of a dict). kTorch: torch.save archives' data.pkl
    /// (adds OrderedDict, tensor rebuilds and storages by persistent id).
    enum class Mode { kNumpy, kTorch, kJoblib };
    Unpickler(const uint8_t* b, size_t n, const std::string& what, Mode mode = Mode::kNumpy)
        : b_(b), n_(n), what_(what), mode_(mode) {}

    PyRef make(PyObj::Kind k) {
        arena_.emplace_back();
        arena_.back().kind = k;
        return &arena_.back();
    }

    PyRef run() {
        while (true) {
            uint8_t op = u8();
            switch (op) {
                case 0x80:
                    u8();
                    break;  // PROTO
                case 0x95:
                    take(8);
                    break;   // FRAME
                case '.': {  // STOP
                    if (stack_.size() != 1) bad("unbalanced stack at STOP");
                    return stack_.back();
                }
                case 'c': {  // GLOBAL "module\nname\n"
                    std::string mod = line(), name = line();
                    push_global(mod + "." + name);
                    break;
                }
                case 0x93: {  // STACK_GLOBAL
                    PyRef name = pop(), mod = pop();
                    if (name->kind != PyObj::kStr || mod->kind != PyObj::kStr) bad("bad STACK_GLOBAL");
                    push_global(mod->s + "." + name->s);
                    break;
                }
                case 'q':
                    memo_put(u8());
                    break;  // BINPUT
                case 'r':
                    memo_put(uint32_t(le(4)));
                    break;  // LONG_BINPUT
                case 0x94:
                    memo_put(memo_.size());
                    break;  // MEMOIZE
                case 'h':
                    memo_get(u8());
                    break;  // BINGET
                case 'j':
                    memo_get(uint32_t(le(4)));
                    break;  // LONG_BINGET
                case 'K':
                    push_int(u8());
                    break;  // BININT1
                case 'M':
                    push_int(le(2));
                    break;  // BININT2
                case 'J':
                    push_int(int32_t(uint32_t(le(4))));
                    break;    // BININT
                case 0x8a: {  // LONG1
                    size_t k = u8();
                    if (k > 8) bad("integer too large");
                    const uint8_t* p = take(k);
                    uint64_t v = read_le(p, int(k));
                    int64_t sv = k == 0 ? 0 : (k == 8 ? int64_t(v) : (int64_t(v << (64 - 8 * k)) >> (64 - 8 * k)));
                    push_int(sv);
                    break;
                }
                case 'G': {  // BINFLOAT (big-endian)
                    const uint8_t* p = take(8);
                    uint64_t v = 0;
                    for (int k = 0; k < 8; ++k) v = (v << 8) | p[k];
                    auto o = make(PyObj::kFloat);
                    std::memcpy(&o->f, &v, 8);
                    stack_.push_back(o);
                    break;
                }
                case 'N':
                    stack_.push_back(make(PyObj::kNone));
                    break;
                case 0x88:
                    push_bool(true);
                    break;
                case 0x89:
                    push_bool(false);
                    break;
                case 'C':
                    push_bytes(PyObj::kBytes, u8());
                    break;  // SHORT_BINBYTES
                case 'B':
                    push_bytes(PyObj::kBytes, le(4));
                    break;  // BINBYTES
                case 0x8e:
                    push_bytes(PyObj::kBytes, le(8));
                    break;  // BINBYTES8
                case 'U':
                    push_bytes(PyObj::kStr, u8());
                    break;  // SHORT_BINSTRING
                case 'T':
                    push_bytes(PyObj::kStr, le(4));
                    break;  // BINSTRING
                case 0x8c:
                    push_bytes(PyObj::kStr, u8());
                    break;  // SHORT_BINUNICODE
                case 'X':
                    push_bytes(PyObj::kStr, le(4));
                    break;  // BINUNICODE
                case 0x8d:
                    push_bytes(PyObj::kStr, le(8));
                    break;  // BINUNICODE8
                case '(':
                    stack_.push_back(make(PyObj::kMark));
                    break;
                case ')':
                    stack_.push_back(make(PyObj::kTuple));
                    break;
                case 0x85:
                    tuple_n(1);
                    break;
                case 0x86:
                    tuple_n(2);
                    break;
                case 0x87:
                    tuple_n(3);
                    break;
                case 't': {
                    auto items = pop_mark();
                    auto t = make(PyObj::kTuple);
                    t->items = std::move(items);
                    stack_.push_back(t);
                    break;
                }
                case ']':
                    stack_.push_back(make(PyObj::kList));
                    break;
                case '}':
                    stack_.push_back(make(PyObj::kDict));
                    break;
                case 'a': {  // APPEND
                    PyRef v = pop();
                    PyRef l = top();
                    if (l->kind != PyObj::kList) bad("APPEND to a non-list");
                    l->items.push_back(v);
                    break;
                }
                case 'e': {  // APPENDS
                    auto items = pop_mark();
                    PyRef l = top();
                    if (l->kind != PyObj::kList) bad("APPENDS to a non-list");
                    l->items.insert(l->items.end(), items.begin(), items.end());
                    break;
                }
                case 's': {  // SETITEM
                    PyRef v = pop(), k = pop();
                    PyRef d = top();
                    if (d->kind != PyObj::kDict) bad("SETITEM on a non-dict");
                    d->items.push_back(k);
                    d->items.push_back(v);
                    break;
                }
                case 'u': {  // SETITEMS
                    auto items = pop_mark();
                    if (items.size() % 2) bad("odd SETITEMS");
                    PyRef d = top();
                    if (d->kind != PyObj::kDict) bad("SETITEMS on a non-dict");
                    d->items.insert(d->items.end(), items.begin(), items.end());
                    break;
                }
                case 'R':
                    reduce();
                    break;
                case 'b':
                    build();
                    break;
                case 'Q':
                    persistent_load();
                    break;  // BINPERSID
                case 0x81:
                    newobj();
                    break;  // NEWOBJ
                default: {
                    char hex[8];
                    std::snprintf(hex, sizeof hex, "0x%02x", op);
                    bad(std::string("unsupported pickle opcode ") + hex);
                }
            }
            if (stack_.size() > 100000) bad("pickle stack too deep");
        }
    }

private:
    [[noreturn]] void bad(const std::string& msg) {
        fail(what_, std::string(mode_ == Mode::kTorch    ? "invalid torch.save archive: "
                                : mode_ == Mode::kJoblib ? "invalid joblib normalizer file: "
                                                         : "invalid pickled MASH dict: ") +
                        msg);
    }
    uint8_t u8() {
        if (p_ >= n_) bad("truncated pickle stream");
        return b_[p_++];
    }
    const uint8_t* take(uint64_t k) {
        if (k > n_ - p_) bad("truncated pickle stream");
        const uint8_t* r = b_ + p_;
        p_ += k;
        return r;
    }
    uint64_t le(int k) { return read_le(take(k), k); }
    std::string line() {
        size_t s = p_;
        while (p_ < n_ && b_[p_] != '\n') ++p_;
        if (p_ >= n_) bad("truncated GLOBAL");
        std::string r(reinterpret_cast<const char*>(b_ + s), p_ - s);
        ++p_;
        return r;
    }
    PyRef pop() {
        if (stack_.empty() || stack_.back()->kind == PyObj::kMark) bad("stack underflow");
        PyRef r = stack_.back();
        stack_.pop_back();
        return r;
    }
    PyRef top() {
        if (stack_.empty()) bad("stack underflow");
        return stack_.back();
    }
    std::vector<PyRef> pop_mark() {
        std::vector<PyRef> items;
        while (true) {
            if (stack_.empty()) bad("missing MARK");
            PyRef r = stack_.back();
            stack_.pop_back();
            if (r->kind == PyObj::kMark) break;
            items.push_back(r);
        }
        std::reverse(items.begin(), items.end());
        return items;
    }
    void tuple_n(int k) {
        auto t = make(PyObj::kTuple);
        t->items.resize(k);
        for (int j = k - 1; j >= 0; --j) t->items[j] = pop();
        stack_.push_back(t);
    }
    void push_int(int64_t v) {
        auto o = make(PyObj::kInt);
        o->i = v;
        stack_.push_back(o);
    }
    void push_bool(bool v) {
        auto o = make(PyObj::kBool);
        o->b = v;
        stack_.push_back(o);
    }
    void push_bytes(PyObj::Kind k, uint64_t len) {
        const uint8_t* p = take(len);
        auto o = make(k);
        o->s.assign(reinterpret_cast<const char*>(p), len);
        stack_.push_back(o);
    }
    void push_global(const std::string& name) {
        static const char* allowed[] = {"numpy.core.multiarray._reconstruct",
                                        "numpy._core.multiarray._reconstruct",
                                        "numpy.ndarray",
                                        "numpy.dtype",
                                        "_codecs.encode",
                                        "numpy.core.multiarray.scalar",
                                        "numpy._core.multiarray.scalar"};
        static const char* allowed_torch[] = {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
                                              "torch.FloatStorage",      "torch.DoubleStorage",
                                              "torch.HalfStorage",       "torch.BFloat16Storage",
                                              "torch.LongStorage",       "torch.IntStorage",
                                              "torch.ShortStorage",      "torch.CharStorage",
                                              "torch.ByteStorage",       "torch.BoolStorage"};
        static const char* allowed_joblib[] = {"joblib.numpy_pickle.NumpyArrayWrapper",
                                               "distribution_manage.Module.multi_linear_transformer.MultiLinearTransformer",
                                               "distribution_manage.Module.linear_function.LinearFunction"};
        bool ok = std::any_of(std::begin(allowed), std::end(allowed), [&](const char* a) { return name == a; });
        if (!ok && mode_ == Mode::kTorch)
            ok = std::any_of(std::begin(allowed_torch), std::end(allowed_torch), [&](const char* a) { return name == a; });
        if (!ok && mode_ == Mode::kJoblib)
            ok = std::any_of(std::begin(allowed_joblib), std::end(allowed_joblib), [&](const char* a) { return name == a; });
        if (ok) {
            auto o = make(PyObj::kGlobal);
            o->s = name;
            stack_.push_back(o);
            return;
        }
        bad("refuses to load global '" + name +
            (mode_ == Mode::kTorch    ? "' (only tensors, storages, OrderedDict and numpy scalars are allowed)"
             : mode_ == Mode::kJoblib ? "' (only numpy arrays and the original's MultiLinearTransformer objects are allowed)"
                                      : "' (only numpy arrays, dtypes and bools are allowed)"));
    }
    void memo_put(uint64_t k) {
        if (k > 1000000) bad("memo index too large");
        if (memo_.size() <= k) memo_.resize(k + 1);
        memo_[k] = top();
    }
    void memo_get(uint64_t k) {
        if (k >= memo_.size() || !memo_[k]) bad("memo index out of range");
        stack_.push_back(memo_[k]);
    }
    static bool ends_with(const std::string& s, const std::string& t) {
        return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
    }
    void reduce() {
        PyRef args = pop(), fn = pop();
        if (fn->kind != PyObj::kGlobal || args->kind != PyObj::kTuple) bad("bad REDUCE");
        if (ends_with(fn->s, "._reconstruct")) {
            auto a = make(PyObj::kArray);
            stack_.push_back(a);
        } else if (fn->s == "numpy.dtype") {
            if (args->items.empty() || args->items[0]->kind != PyObj::kStr) bad("bad dtype");
            auto d = make(PyObj::kDtype);
            d->s = args->items[0]->s;
            stack_.push_back(d);
        } else if (fn->s == "_codecs.encode") {
            // Protocol-2 bytes: _codecs.encode(str, 'latin1'); our str holds UTF-8 of latin1 chars.
            if (args->items.size() != 2 || args->items[0]->kind != PyObj::kStr) bad("bad _codecs.encode");
            const std::string& u = args->items[0]->s;
            auto o = make(PyObj::kBytes);
            for (size_t k = 0; k < u.size(); ++k) {
                unsigned char c = u[k];
                if (c < 0x80)
                    o->s.push_back(char(c));
                else if ((c & 0xe0) == 0xc0 && k + 1 < u.size()) {
                    o->s.push_back(char(((c & 0x1f) << 6) | (u[k + 1] & 0x3f)));
                    ++k;
                } else
                    bad("bad latin1 payload");
            }
            stack_.push_back(o);
        } else if (ends_with(fn->s, ".scalar")) {
            // numpy scalar: scalar(dtype, bytes) -> 0-d array.
            if (args->items.size() != 2 || args->items[0]->kind != PyObj::kDtype || args->items[1]->kind != PyObj::kBytes)
                bad("bad numpy scalar");
            auto a = make(PyObj::kArray);
            a->dtype = args->items[0];
            a->payload = args->items[1];
            a->built = true;
            stack_.push_back(a);
        } else if (fn->s == "collections.OrderedDict") {
            if (!args->items.empty()) bad("OrderedDict with arguments");
            stack_.push_back(make(PyObj::kDict));
        } else if (fn->s == "torch._utils._rebuild_tensor_v2") {
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
            auto& it = args->items;
            if (it.size() < 6 || it[0]->kind != PyObj::kStorage || it[1]->kind != PyObj::kInt || it[2]->kind != PyObj::kTuple ||
                it[3]->kind != PyObj::kTuple || it[2]->items.size() != it[3]->items.size())
                bad("bad tensor rebuild arguments");
            auto t = make(PyObj::kTensor);
            t->storage = it[0];
            t->i = it[1]->i;
            for (size_t d = 0; d < it[2]->items.size(); ++d) {
                if (it[2]->items[d]->kind != PyObj::kInt || it[3]->items[d]->kind != PyObj::kInt) bad("bad tensor shape");
                t->shape.push_back(it[2]->items[d]->i);
                t->stride.push_back(it[3]->items[d]->i);
            }
            t->built = true;
            stack_.push_back(t);
        } else {
            bad("unexpected callable " + fn->s);
        }
    }
    /// NEWOBJ of an allowed class: joblib's array wrapper (its array follows in the stream after
    /// BUILD) or a plain object whose attributes (BUILD state) are kept as a dict.
    void newobj() {
        if (mode_ != Mode::kJoblib) bad("unsupported pickle opcode 0x81 (NEWOBJ)");
        PyRef args = pop(), cls = pop();
        if (cls->kind != PyObj::kGlobal || args->kind != PyObj::kTuple || !args->items.empty()) bad("bad NEWOBJ");
        auto o = make(cls->s == "joblib.numpy_pickle.NumpyArrayWrapper" ? PyObj::kArray : PyObj::kDict);
        o->s = cls->s;
        stack_.push_back(o);
    }
    /// joblib's NumpyArrayWrapper: shape, order, dtype in the state; then [1 byte padding length,
    /// padding] when numpy_array_alignment_bytes is set, then the raw array bytes.
    void build_joblib_array(PyRef obj, PyRef state) {
        if (state->kind != PyObj::kDict) bad("bad NumpyArrayWrapper state");
        PyRef shape = dict_get(state, "shape"), order = dict_get(state, "order"), dtype = dict_get(state, "dtype"),
              align = dict_get(state, "numpy_array_alignment_bytes");
        if (!shape || shape->kind != PyObj::kTuple || !order || order->kind != PyObj::kStr || !dtype ||
            dtype->kind != PyObj::kDtype)
            bad("bad NumpyArrayWrapper state");
        for (auto& d : shape->items) {
            if (d->kind != PyObj::kInt || d->i < 0) bad("bad array shape");
            obj->shape.push_back(d->i);
        }
        char kind;
        int itemsize;
        bool big;
        std::string bo(1, dtype->byteorder);
        parse_descr(bo == "|" || bo == "=" ? dtype->s : bo + dtype->s, what_, &kind, &itemsize, &big);
        const int64_t n = checked_numel(obj->shape, what_);
        if (align && align->kind == PyObj::kInt) take(u8());  // padding
        auto payload = make(PyObj::kBytes);
        const uint8_t* p = take(uint64_t(n) * uint64_t(itemsize));
        payload->s.assign(reinterpret_cast<const char*>(p), size_t(n) * itemsize);
        obj->dtype = dtype;
        obj->fortran = order->s == "F";
        obj->payload = payload;
        obj->built = true;
    }
    void persistent_load() {
        if (mode_ != Mode::kTorch) bad("unsupported pickle opcode 0x51 (persistent id)");
        PyRef pid = pop();
        // ('storage', <torch.XStorage>, key, location, numel)
        if (pid->kind != PyObj::kTuple || pid->items.size() != 5 || pid->items[0]->kind != PyObj::kStr ||
            pid->items[0]->s != "storage" || pid->items[1]->kind != PyObj::kGlobal || pid->items[2]->kind != PyObj::kStr ||
            pid->items[4]->kind != PyObj::kInt || pid->items[4]->i < 0)
            bad("bad persistent id (expected a storage)");
        auto st = make(PyObj::kStorage);
        st->storage_type = pid->items[1]->s;
        st->s = pid->items[2]->s;
        st->i = pid->items[4]->i;
        stack_.push_back(st);
    }
    void build() {
        PyRef state = pop();
        PyRef obj = top();
        if (obj->kind == PyObj::kArray && mode_ == Mode::kJoblib && !obj->built) {
            build_joblib_array(obj, state);
        } else if (obj->kind == PyObj::kDtype) {
            if (state->kind != PyObj::kTuple || state->items.size() < 2 || state->items[1]->kind != PyObj::kStr ||
                state->items[1]->s.size() != 1)
                bad("bad dtype state");
            obj->byteorder = state->items[1]->s[0];
        } else if (obj->kind == PyObj::kArray) {
            if (state->kind != PyObj::kTuple || state->items.size() != 5) bad("bad array state");
            auto& it = state->items;
            if (it[1]->kind != PyObj::kTuple || it[2]->kind != PyObj::kDtype || it[3]->kind != PyObj::kBool)
                bad("bad array state");
            for (auto& d : it[1]->items) {
                if (d->kind != PyObj::kInt || d->i < 0) bad("bad array shape");
                obj->shape.push_back(d->i);
            }
            obj->dtype = it[2];
            obj->fortran = it[3]->b;
            obj->payload = it[4];
            obj->built = true;
        } else if (obj->kind == PyObj::kDict && mode_ == Mode::kTorch) {
            // OrderedDict attributes (a state_dict's _metadata): not needed.

        } else if (obj->kind == PyObj::kDict && mode_ == Mode::kJoblib) {
            if (state->kind != PyObj::kDict) bad("bad object state");
            obj->items.insert(obj->items.end(), state->items.begin(), state->items.end());
        } else {
            bad("BUILD on an unexpected object");
        }
    }

    const uint8_t* b_;
    size_t n_;
    size_t p_ = 0;
    std::string what_;
    std::vector<PyRef> stack_;
    std::vector<PyRef> memo_;
    std::deque<PyObj> arena_;
    Mode mode_;
};

NpyArray to_npy_array(const PyRef& a, const std::string& what, const std::string& key) {
    const std::string ctx = what + " (key '" + key + "')";
    if (!a->built || !a->dtype || !a->payload || a->payload->kind != PyObj::kBytes) fail(ctx, "expected a numeric numpy array");
    NpyArray out;
    bool big = false;
    std::string descr = a->dtype->s;
    std::string bo(1, a->dtype->byteorder);
    parse_descr(bo == "|" || bo == "=" ? descr : bo + descr, ctx, &out.kind, &out.itemsize, &big);
    out.shape = a->shape;
    int64_t n = checked_numel(out.shape, ctx);
    if (a->payload->s.size() != uint64_t(n) * out.itemsize) fail(ctx, "array data size does not match its shape (corrupt file)");
    out.data.assign(a->payload->s.begin(), a->payload->s.end());
    if (big) byteswap_inplace(out.data, out.itemsize);
    if (a->fortran && out.shape.size() > 1) out.data = fortran_to_c(out.data, out.shape, out.itemsize);
    return out;
}

}  // namespace

PickledDict parse_pickled_dict_npy(const uint8_t* bytes, size_t size, const std::string& what) {
    size_t offset = 0;
    NpyHeader h = parse_header_dict(npy_header(bytes, size, what, &offset), what);
    if (h.descr != "|O" && h.descr != "O")
        fail(what, "expected a pickled dict (.npy of dtype object), found a plain array of dtype " + h.descr);
    Unpickler up(bytes + offset, size - offset, what);
    PyRef root = up.run();
    PyRef dict;
    if (root->kind == PyObj::kDict) {
        dict = root;
    } else if (root->kind == PyObj::kArray && root->payload && root->payload->kind == PyObj::kList &&
               root->payload->items.size() == 1 && root->payload->items[0]->kind == PyObj::kDict) {
        dict = root->payload->items[0];
    } else {
        fail(what, "pickled object is not a dict wrapped in a 0-d object array");
    }
    PickledDict out;
    for (size_t k = 0; k + 1 < dict->items.size(); k += 2) {
        const PyRef& key = dict->items[k];
        const PyRef& val = dict->items[k + 1];
        if (key->kind != PyObj::kStr) fail(what, "dict key is not a string");
        PickledValue v;
        if (val->kind == PyObj::kBool) {
            v.is_bool = true;
            v.bool_value = val->b;
        } else if (val->kind == PyObj::kArray) {
            v.array = to_npy_array(val, what, key->s);
            if (v.array.kind == 'b' && v.array.numel() == 1 && v.array.shape.empty()) {
                v.is_bool = true;
                v.bool_value = v.array.data[0] != 0;
            }
        } else {
            fail(what, "value of key '" + key->s + "' is neither an array nor a bool");
        }
        out.emplace_back(key->s, std::move(v));
    }
    return out;
}

namespace {

/// Element type of a torch storage class: kind/itemsize of our NpyArray (half and bfloat16 are
/// widened to float32 when the tensor is materialized).
void storage_dtype(const std::string& type, const std::string& what, char* kind, int* itemsize, int* src_size) {
    static const struct {
        const char* name;
        char kind;
        int size;
        int src;
    } table[] = {{"torch.FloatStorage", 'f', 4, 4},    {"torch.DoubleStorage", 'f', 8, 8}, {"torch.HalfStorage", 'f', 4, 2},
                 {"torch.BFloat16Storage", 'f', 4, 2}, {"torch.LongStorage", 'i', 8, 8},   {"torch.IntStorage", 'i', 4, 4},
                 {"torch.ShortStorage", 'i', 2, 2},    {"torch.CharStorage", 'i', 1, 1},   {"torch.ByteStorage", 'u', 1, 1},
                 {"torch.BoolStorage", 'b', 1, 1}};
    for (const auto& e : table)
        if (type == e.name) {
            *kind = e.kind;
            *itemsize = e.size;
            *src_size = e.src;
            return;
        }
    fail(what, "unsupported storage type " + type);
}

float half_to_float(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {  // subnormal
            int e = -1;
            uint32_t m = man;
            do {
                ++e;
                m <<= 1;
            } while (!(m & 0x400));
            bits = sign | uint32_t(127 - 15 - e) << 23 | (m & 0x3ff) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | man << 13;
    } else {
        bits = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

NpyArray materialize_tensor(const PyRef& t, const std::map<std::string, const ZipEntry*>& records, const std::string& what,
                            const std::string& key) {
    const std::string ctx = what + " (tensor '" + key + "')";
    NpyArray out;
    int src_size = 0;
    storage_dtype(t->storage->storage_type, ctx, &out.kind, &out.itemsize, &src_size);
    auto rec = records.find(t->storage->s);
    if (rec == records.end()) fail(ctx, "storage record data/" + t->storage->s + " is missing");
    const auto& bytes = rec->second->data;
    const int64_t storage_numel = t->storage->i;
    if (uint64_t(storage_numel) > bytes.size() / uint64_t(src_size))
        fail(ctx, "storage record data/" + t->storage->s + " is shorter than its " + std::to_string(storage_numel) + " elements");
    out.shape = t->shape;
    const int64_t n = checked_numel(out.shape, ctx);
    // Bounds of the strided view inside the storage.
    int64_t lo = t->i, hi = t->i;
    if (t->i < 0) fail(ctx, "negative storage offset");
    for (size_t d = 0; d < t->shape.size(); ++d) {
        if (t->shape[d] == 0) {
            lo = hi = t->i;
            break;
        }
        const int64_t st = t->stride[d];
        if (st < -kMaxElements || st > kMaxElements) fail(ctx, "stride out of range");
        (st >= 0 ? hi : lo) += st * (t->shape[d] - 1);
    }
    if (n > 0 && (lo < 0 || hi >= storage_numel)) fail(ctx, "tensor view exceeds its storage (corrupt file)");
    out.data.resize(size_t(n) * out.itemsize);
    enum {
        kCopy,
        kHalf,
        kBFloat16
    } conv = t->storage->storage_type == "torch.HalfStorage"       ? kHalf
             : t->storage->storage_type == "torch.BFloat16Storage" ? kBFloat16
                                                                   : kCopy;
    // C-contiguous views of a copyable type (what state dicts hold): one block copy.
    bool contiguous = true;
    for (int64_t d = int64_t(t->shape.size()) - 1, expect = 1; d >= 0; --d) {
        if (t->shape[d] != 1 && t->stride[d] != expect) contiguous = false;
        expect *= t->shape[d];
    }
    if (conv == kCopy && contiguous) {
        if (n > 0) std::memcpy(out.data.data(), bytes.data() + size_t(t->i) * src_size, out.data.size());
        return out;
    }
    std::vector<int64_t> idx(t->shape.size(), 0);
    for (int64_t e = 0; e < n; ++e) {
        int64_t off = t->i;
        for (size_t d = 0; d < idx.size(); ++d) off += idx[d] * t->stride[d];
        const uint8_t* src = bytes.data() + size_t(off) * src_size;
        uint8_t* dst = out.data.data() + size_t(e) * out.itemsize;
        if (conv == kHalf) {
            const float f = half_to_float(uint16_t(src[0] | src[1] << 8));
            std::memcpy(dst, &f, 4);
        } else if (conv == kBFloat16) {
            const uint32_t bits = uint32_t(src[0] | src[1] << 8) << 16;
            std::memcpy(dst, &bits, 4);
        } else {
            std::memcpy(dst, src, out.itemsize);
        }
        for (int64_t d = int64_t(idx.size()) - 1; d >= 0; --d) {
            if (++idx[d] < t->shape[d]) break;
            idx[d] = 0;
        }
    }
    return out;
}

}  // namespace

TorchArchive parse_torch_archive(const uint8_t* bytes, size_t size, const std::string& what) {
    auto entries = read_zip(bytes, size, what);
    const ZipEntry* pkl = nullptr;
    std::string prefix;
    for (const auto& e : entries) {
        const auto slash = e.name.find('/');
        if (slash != std::string::npos && e.name.compare(slash, std::string::npos, "/data.pkl") == 0) {
            if (pkl) fail(what, "invalid torch.save archive: more than one data.pkl");
            pkl = &e;
            prefix = e.name.substr(0, slash + 1);
        }
    }
    if (!pkl) fail(what, "not a torch.save archive (no <folder>/data.pkl in the zip)");
    std::map<std::string, const ZipEntry*> records;
    for (const auto& e : entries)
        if (e.name.rfind(prefix + "data/", 0) == 0) records[e.name.substr(prefix.size() + 5)] = &e;
    Unpickler up(pkl->data.data(), pkl->data.size(), what, Unpickler::Mode::kTorch);
    PyRef root = up.run();
    if (root->kind != PyObj::kDict) fail(what, "invalid torch.save archive: the top-level object is not a dict");
    TorchArchive out;
    for (size_t k = 0; k + 1 < root->items.size(); k += 2) {
        const PyRef key = root->items[k], val = root->items[k + 1];
        if (key->kind != PyObj::kStr) fail(what, "invalid torch.save archive: a top-level key is not a string");
        TorchArchive::Value v;
        switch (val->kind) {
            case PyObj::kInt:
                v.kind = TorchArchive::Value::kNumber;
                v.number = double(val->i);
                break;
            case PyObj::kFloat:
                v.kind = TorchArchive::Value::kNumber;
                v.number = val->f;
                break;
            case PyObj::kBool:
                v.kind = TorchArchive::Value::kNumber;
                v.number = val->b ? 1 : 0;
                break;
            case PyObj::kNone:
                v.kind = TorchArchive::Value::kNone;
                break;
            case PyObj::kArray: {
                NpyArray a = to_npy_array(val, what, key->s);
                if (a.numel() != 1) {
                    v.kind = TorchArchive::Value::kOther;
                    break;
                }
                v.kind = TorchArchive::Value::kNumber;
                v.number = a.to_double()[0];
                break;
            }
            case PyObj::kTensor:
                v.kind = TorchArchive::Value::kTensor;
                v.tensor = materialize_tensor(val, records, what, key->s);
                break;
            case PyObj::kDict: {
                bool tensors = true;
                for (size_t j = 0; j + 1 < val->items.size(); j += 2)
                    tensors = tensors && val->items[j]->kind == PyObj::kStr && val->items[j + 1]->kind == PyObj::kTensor;
                if (!tensors) {
                    v.kind = TorchArchive::Value::kOther;
                    break;
                }
                v.kind = TorchArchive::Value::kStateDict;
                for (size_t j = 0; j + 1 < val->items.size(); j += 2)
                    v.state_dict.emplace_back(
                        val->items[j]->s, materialize_tensor(val->items[j + 1], records, what, key->s + "." + val->items[j]->s));
                break;
            }
            default:
                v.kind = TorchArchive::Value::kOther;
        }
        out.entries.emplace_back(key->s, std::move(v));
    }
    return out;
}

std::vector<MultiLinearColumn> parse_joblib_multi_linear(const uint8_t* bytes, size_t size, const std::string& what) {
    Unpickler up(bytes, size, what, Unpickler::Mode::kJoblib);
    PyRef root = up.run();
    if (root->kind != PyObj::kDict)
        fail(what, "not an original normalizer file (expected a joblib dict {'0': MultiLinearTransformer, ...})");
    std::vector<MultiLinearColumn> out(root->items.size() / 2);
    std::vector<bool> seen(out.size(), false);
    for (size_t k = 0; k + 1 < root->items.size(); k += 2) {
        const PyRef key = root->items[k], obj = root->items[k + 1];
        char* end = nullptr;
        const long col = key->kind == PyObj::kStr ? std::strtol(key->s.c_str(), &end, 10) : -1;
        if (key->kind != PyObj::kStr || key->s.empty() || *end != '\0' || col < 0 || size_t(col) >= out.size() || seen[col])
            fail(what, "not an original normalizer file (keys must be '0'..'" + std::to_string(out.size() - 1) + "')");
        if (obj->kind != PyObj::kDict || obj->s != "distribution_manage.Module.multi_linear_transformer.MultiLinearTransformer")
            fail(what, "column " + key->s + " is not a MultiLinearTransformer");
        seen[col] = true;
        for (const char* name : {"source_values", "target_values"}) {
            const PyRef a = dict_get(obj, name);
            if (!a || a->kind != PyObj::kArray) fail(what, "column " + key->s + ": no " + name + " array");
            NpyArray arr = to_npy_array(a, what, key->s + "." + name);
            if (arr.shape.size() != 1) fail(what, "column " + key->s + ": " + name + " is not a vector");
            (std::string(name) == "source_values" ? out[col].source : out[col].target) = arr.to_double();
        }
    }
    return out;
}

namespace {
struct PickleWriter {
    std::vector<uint8_t> out;
    void op(uint8_t c) { out.push_back(c); }
    void global(const std::string& mod, const std::string& name) {
        op('c');
        out.insert(out.end(), mod.begin(), mod.end());
        op('\n');
        out.insert(out.end(), name.begin(), name.end());
        op('\n');
    }
    void integer(int64_t v) {
        if (v >= 0 && v < 256) {
            op('K');
            op(uint8_t(v));
        } else if (v >= 0 && v < 65536) {
            op('M');
            put_le(out, uint64_t(v), 2);
        } else if (v >= INT32_MIN && v <= INT32_MAX) {
            op('J');
            put_le(out, uint32_t(int32_t(v)), 4);
        } else {
            op(0x8a);
            op(8);
            put_le(out, uint64_t(v), 8);
        }
    }
    void unicode(const std::string& s) {
        op('X');
        put_le(out, s.size(), 4);
        out.insert(out.end(), s.begin(), s.end());
    }
    void bytes(const std::vector<uint8_t>& b) {
        if (b.size() < 256) {
            op('C');
            op(uint8_t(b.size()));
        } else {
            op('B');
            put_le(out, b.size(), 4);
        }
        out.insert(out.end(), b.begin(), b.end());
    }
    void shape_tuple(const std::vector<int64_t>& shape) {
        op('(');
        for (auto d : shape) integer(d);
        op('t');
    }
    void dtype(const std::string& descr_no_order, char order, int flags = 0) {
        global("numpy", "dtype");
        unicode(descr_no_order);
        op(0x89);
        op(0x88);
        op(0x87);
        op('R');
        op('(');
        integer(3);
        unicode(std::string(1, order));
        op('N');
        op('N');
        op('N');
        integer(-1);
        integer(-1);
        integer(flags);
        op('t');
        op('b');
    }
    void reconstruct_prefix() {
        global("numpy.core.multiarray", "_reconstruct");
        global("numpy", "ndarray");
        integer(0);
        op(0x85);
        bytes({'b'});
        op(0x87);
        op('R');
    }
    void array(const NpyArray& a) {
        reconstruct_prefix();
        op('(');
        integer(1);
        shape_tuple(a.shape);
        dtype(std::string(1, a.kind) + std::to_string(a.itemsize), a.itemsize == 1 ? '|' : '<');
        op(0x89);
        bytes(a.data);
        op('t');
        op('b');
    }
};
}  // namespace

std::vector<uint8_t> serialize_pickled_dict_npy(const PickledDict& dict) {
    PickleWriter w;
    w.op(0x80);
    w.op(3);
    w.reconstruct_prefix();
    w.op('(');
    w.integer(1);
    w.op(')');
    w.dtype("O8", '|', 63);  // NPY_OBJECT's item flags
    w.op(0x89);
    w.op(']');
    w.op('}');
    w.op('(');
    for (const auto& [key, v] : dict) {
        w.unicode(key);
        if (v.is_bool)
            w.op(v.bool_value ? 0x88 : 0x89);
        else
            w.array(v.array);
    }
    w.op('u');
    w.op('a');
    w.op('t');
    w.op('b');
    w.op('.');
    auto out = npy_preamble("|O", {});
    out.insert(out.end(), w.out.begin(), w.out.end());
    return out;
}

void check_pickle(const uint8_t* bytes, size_t size, const std::string& what, uint64_t max_memo) {
    size_t pos = 0;
    auto bad = [&](const std::string& why) {
        return IoError(what + ": invalid pickle: " + why + " at byte " + std::to_string(pos));
    };
    auto need = [&](uint64_t n) {
        if (n > size - pos) throw bad("truncated argument");
    };
    auto le = [&](int n) {
        need(uint64_t(n));
        uint64_t v = 0;
        for (int i = 0; i < n; ++i) v |= uint64_t(bytes[pos + size_t(i)]) << (8 * i);
        pos += size_t(n);
        return v;
    };
    auto line = [&]() {
        const size_t start = pos;
        while (pos < size && bytes[pos] != '\n') ++pos;
        if (pos >= size) throw bad("unterminated text argument");
        ++pos;
        return std::string(reinterpret_cast<const char*>(bytes) + start, pos - 1 - start);
    };
    auto memo = [&](uint64_t i) {
        if (i >= max_memo) throw bad("memo index " + std::to_string(i) + " (expected below " + std::to_string(max_memo) + ")");
    };
    auto text_index = [&]() {
        const std::string t = line();
        if (t.empty() || t.size() > 12 || t.find_first_not_of("0123456789") != std::string::npos)
            throw bad("malformed memo index");
        memo(std::stoull(t));
    };
    uint64_t memoized = 0;
    while (pos < size) {
        const uint8_t op = bytes[pos++];
        switch (op) {
            case '.':
                return;  // STOP
            case 'N':
            case 0x88:
            case 0x89:
            case '(':
            case ')':
            case 0x85:
            case 0x86:
            case 0x87:
            case 't':
            case ']':
            case '}':
            case 'a':
            case 'e':
            case 's':
            case 'u':
            case 'R':
            case 'b':
            case 'Q':
            case 0x81:
            case '0':
            case '1':
            case '2':
            case 0x93:
            case 0x92:
            case 0x90:
            case 0x8f:
            case 0x91:
            case 'l':
            case 'd':
            case 'o':
            case 0x97:
            case 0x98:
                break;
            case 0x94:  // MEMOIZE
                memo(memoized++);
                break;
            case 0x80:
            case 'K':
            case 0x82:
                le(1);
                break;
            case 'M':
            case 0x83:
                le(2);
                break;
            case 'J':
            case 0x84:
                le(4);
                break;
            case 'G':
                le(8);
                break;
            case 0x95:
                need(le(8));
                break;  // FRAME: its length must fit (the frame's opcodes follow)
            case 'q':
            case 'h':
                memo(le(1));
                break;
            case 'r':
            case 'j':
                memo(le(4));
                break;
            case 'C':
            case 'U':
            case 0x8c:
            case 0x8a: {
                const uint64_t n = le(1);
                need(n);
                pos += size_t(n);
                break;
            }
            case 'B':
            case 'T':
            case 'X':
            case 0x8b: {
                const uint64_t n = le(4);
                need(n);
                pos += size_t(n);
                break;
            }
            case 0x8e:
            case 0x8d:
            case 0x96: {
                const uint64_t n = le(8);
                need(n);
                pos += size_t(n);
                break;
            }
            case 'c':
            case 'i':
                line();
                line();
                break;
            case 'I':
            case 'L':
            case 'F':
            case 'S':
            case 'V':
            case 'P':
                line();
                break;
            case 'p':
            case 'g':
                text_index();
                break;
            default:
                --pos;
                throw bad("unknown opcode 0x" + [&] {
                    char b[8];
                    std::snprintf(b, sizeof b, "%02x", op);
                    return std::string(b);
                }());
        }
    }
    throw bad("no STOP opcode");
}

}  // namespace mash::formats
