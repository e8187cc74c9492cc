"""A batch of feature records stitched in C: `FeatureRecord.to_json`'s bytes, record for record."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from featurestore import FeatureRecord, record_json
from featurestore.record_json import records_json

texts = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=10
) | st.sampled_from(['"', "\\", '","', "],[", "a\\", "\n\t\x00", "é日🙂", "null"])
floats = st.floats(width=64) | st.sampled_from([-0.0, 1e16, 1e-7, 5e-324, 0.1, 3.0])
int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@st.composite
def batches(draw: st.DrawFn) -> list[FeatureRecord]:
    names = tuple(draw(st.lists(texts, min_size=0, max_size=6, unique=True)))
    view, version = draw(texts), draw(st.integers(min_value=0, max_value=2**31))
    return [
        FeatureRecord(
            draw(texts),
            draw(texts),
            draw(int64),
            [draw(floats) for _ in names],
            draw(st.sampled_from([None, 0, 1])),
            view,
            version,
            draw(texts),
            draw(int64),
            draw(int64),
            draw(st.none() | texts),  # reply-to and correlation id are headers, not JSON
            None,
            names,
            draw(int64),
        )
        for _ in range(draw(st.integers(min_value=0, max_value=6)))
    ]


@settings(max_examples=300, deadline=None)
@given(records=batches())
def test_a_batch_is_to_json_record_for_record(records: list[FeatureRecord]) -> None:
    assert records_json(records) == [r.to_json() for r in records]


def test_records_of_several_views_or_bad_vectors_take_to_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a = FeatureRecord("e1", "x", 1, [1.0, 2.0], 1, "v", 1, names=("p", "q"))
    b = FeatureRecord("e2", "y", 2, [3.5], None, "w", 4, names=("r",))
    assert records_json([a, b]) == [a.to_json(), b.to_json()]
    for values in ([1.0], [1.0, 2.0, 3.0]):
        bad = FeatureRecord("e3", "x", 3, values, None, "v", 1, names=("p", "q"))
        with pytest.raises(ValueError):  # to_json's strict zip names the mismatch
            records_json([a, bad])
    monkeypatch.setattr(record_json, "json_library", lambda: None)
    assert records_json([a, b]) == [a.to_json(), b.to_json()]
