"""Serving answers rendered from a block of stored vectors (C, and its Python twin) against
``orjson.dumps`` of the same answer built as dicts: the same bytes, for any names, entity ids,
values and times."""

from __future__ import annotations

import asyncio
import math
import os
import struct
from array import array
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from featurestore import FeatureServer, FeatureView, answers, json_native
from featurestore.answers import VectorBlock, block_of, render_answers, stored_vectors
from featurestore.store import StoredVector

needs_native = pytest.mark.skipif(
    bool(os.environ.get("RIFFLE_NO_NATIVE")), reason="RIFFLE_NO_NATIVE is set"
)
NOW = 1_700_000_000_000

texts = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12
) | st.sampled_from(['"', "\\", '","', '\\"', "a\\", "\n\t\x00", "é日🙂", "],["])
floats = st.floats(allow_nan=True, allow_infinity=True, width=64) | st.sampled_from(
    [0.0, -0.0, 1e16, 1e-7, 5e-324, 1.7976931348623157e308, 0.1, 123456.0]
)
times = st.integers(min_value=-(2**62), max_value=2**62)


class Vectors:
    """A store that answers with given vectors, whatever is asked."""

    def __init__(self, vectors: list[StoredVector | None]) -> None:
        self.vectors = vectors

    async def read_many(self, view: FeatureView, entities: Any) -> list[StoredVector | None]:
        return self.vectors


def reference(
    view: str,
    version: int,
    names: tuple[str, ...],
    keys: list[str],
    vectors: list[StoredVector | None],
    now: int,
    single: bool,
) -> bytes:
    """The answer as `FeatureServer.get`/`get_many` build it as dicts, serialized by orjson."""
    fv = FeatureView("v", fields=("x",), aggregations=("count",), version=version)
    server = FeatureServer(Vectors(vectors), {view: fv}, clock=lambda: now / 1000)  # type: ignore[arg-type]
    if single:
        return orjson.dumps(asyncio.run(server.get(view, keys[0])))
    return orjson.dumps(asyncio.run(server.get_many(view, keys)))


@st.composite
def cases(draw: st.DrawFn) -> tuple[Any, ...]:
    names = tuple(draw(st.lists(texts, min_size=1, max_size=6, unique=True)))
    n = draw(st.integers(min_value=1, max_value=8))
    keys = draw(st.lists(texts, min_size=n, max_size=n))
    vectors: list[StoredVector | None] = []
    for _ in keys:
        if draw(st.booleans()):
            values = {name: draw(floats) for name in names}
            vectors.append(StoredVector(values, draw(times), draw(times)))
        else:
            vectors.append(None)
    view = draw(texts)
    version = draw(st.integers(min_value=1, max_value=10**6))
    return view, version, names, keys, vectors


@needs_native
def test_the_renderer_builds() -> None:
    assert json_native.json_library() is not None  # CI machines have a C compiler


@settings(max_examples=300, deadline=None)
@given(case=cases(), single=st.booleans(), native=st.booleans())
def test_answers_are_orjsons_bytes(case: tuple[Any, ...], single: bool, native: bool) -> None:
    view, version, names, keys, vectors = case
    if single:
        keys, vectors = keys[:1], vectors[:1]
    with pytest.MonkeyPatch.context() as m:
        if not native:
            m.setattr(answers, "json_library", lambda: None)
        got = render_answers(
            view, version, names, keys, block_of(vectors, names), NOW, single=single
        )
    assert got == reference(view, version, names, keys, vectors, NOW, single)


def test_an_empty_batch() -> None:
    assert render_answers("v", 1, ("x",), [], VectorBlock(b""), NOW) == (
        b'{"view":"v","version":1,"results":[]}'
    )


@pytest.mark.parametrize("native", [True, False])
@pytest.mark.parametrize(
    "block",
    [
        VectorBlock(b"\x01\x01", struct.pack("<2d", 1.0, 2.0), array("q", [1]), array("q", [1])),
        VectorBlock(b"\x01", struct.pack("<4d", 1, 2, 3, 4), array("q", [1]), array("q", [1])),
        VectorBlock(b"\x00", struct.pack("<2d", 1.0, 2.0)),
    ],
    ids=["too-few-values", "values-left-over", "values-for-a-miss"],
)
def test_a_block_that_does_not_match_its_entities_is_refused(
    block: VectorBlock, native: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not native:
        monkeypatch.setattr(answers, "json_library", lambda: None)
    # two features: the first block has numbers for one entity but says two were found
    keys = ["a", "b"] if len(block.found) == 2 else ["a"]
    with pytest.raises(ValueError, match="inconsistent vector block"):
        render_answers("v", 1, ("x", "y"), keys, block, NOW)
    with pytest.raises(ValueError, match="inconsistent vector block"):
        render_answers("v", 1, ("x", "y"), [*keys, "c"], block, NOW)


def test_stored_vectors_invert_block_of() -> None:
    names = ("a", "b")
    vectors = [
        StoredVector({"a": 1.5, "b": -2.0}, 10, 11),
        None,
        StoredVector({"a": math.inf, "b": 0.0}, 12, 13),
    ]
    block = block_of(vectors, names)
    assert block.found == b"\x01\x00\x01"
    assert list(block.event_ts) == [10, 12] and list(block.written_at) == [11, 13]
    assert stored_vectors(block, names) == vectors
