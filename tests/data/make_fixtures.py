#!/usr/bin/python3
# Regenerates the small numpy fixtures in tests/data (Debian's python3-numpy 1.24):
#   /usr/bin/python3 tests/data/make_fixtures.py
# They exercise the npy/npz/pickle readers on files written by numpy itself.
import os
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
def out(name): return os.path.join(here, name)

a = np.arange(12, dtype=np.float32).reshape(3, 4) / 7.0
b = np.array([-3, 0, 7, 2**40, -2**50], dtype=np.int64)
np.savez_compressed(out("numpy_deflate.npz"), a=a, b=b, flag=np.array(True))
np.savez(out("numpy_stored.npz"), a=a, b=b, flag=np.array(False))

f = np.asfortranarray(np.arange(6, dtype=">f8").reshape(2, 3) + 0.5)
np.save(out("fortran_bigendian.npy"), f)
np.save(out("int16_vector.npy"), np.array([1, -2, 300], dtype=np.int16))

# A MASH dict pickled with protocol 2 (bytes travel through _codecs.encode) and a numpy bool.
rng = np.random.default_rng(0)
d = {"mask_params": rng.normal(size=(2, 3)).astype(np.float32),
     "sh_params": np.abs(rng.normal(size=(2, 4))) + 0.1,
     "rotate_vectors": rng.normal(size=(2, 3)),
     "positions": rng.normal(size=(2, 3)),
     "use_inv": np.bool_(False)}
arr = np.empty((), dtype=object)
arr[()] = d
import pickle
with open(out("mash_pickle_proto2.npy"), "wb") as fh:
    np.lib.format.write_array_header_1_0(fh, np.lib.format.header_data_from_array_1_0(arr))
    pickle.dump(arr, fh, protocol=2)
