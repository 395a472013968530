# SPDX-License-Identifier: MIT
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def data():
    return ROOT / "tests" / "data"


@pytest.fixture
def mash_bin():
    b = pathlib.Path(os.environ.get("MASH_BIN", ROOT / "build" / "bin" / "mash"))
    if not b.exists():
        pytest.skip(f"{b}: the mash program is not built")
    return b
