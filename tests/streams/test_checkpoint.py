from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streams.checkpoint import Checkpoint, DirectoryCheckpoints, pack, unpack


def test_round_trip_keeps_arrays_nested_values_and_offsets() -> None:
    state = {
        "w": np.arange(6, dtype=np.float32).reshape(2, 3),
        "nested": {"n": [1, 2.5, None], "b": np.array([True, False])},
        "i": np.int64(3),
    }
    back = unpack(pack(Checkpoint(state, {"t:0": 7, "t:1": 9})))
    assert back.offsets == {"t:0": 7, "t:1": 9}
    np.testing.assert_array_equal(back.state["w"], state["w"])
    assert back.state["w"].dtype == np.float32
    np.testing.assert_array_equal(back.state["nested"]["b"], [True, False])
    assert back.state["nested"]["n"] == [1, 2.5, None] and back.state["i"] == 3


@pytest.mark.parametrize("data", [b"", b"PICKLE", b"RFCK1\x00\x00\x00\x05{bad"])
def test_garbage_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError):
        unpack(data)


def test_object_arrays_cannot_be_checkpointed() -> None:
    with pytest.raises(ValueError):
        unpack(pack(Checkpoint({"o": np.array([object()])}, {})))


async def test_directory_store_is_atomic_and_reloads(tmp_path: Path) -> None:
    store = DirectoryCheckpoints(tmp_path)
    assert await store.load("s:features:0") is None
    size = await store.save("s:features:0", Checkpoint({"x": 1}, {"t:0": 3}))
    assert size > 0 and not list(tmp_path.glob("*.tmp"))
    got = await store.load("s:features:0")
    assert got is not None and got.state == {"x": 1} and got.offsets == {"t:0": 3}
