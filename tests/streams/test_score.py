"""Batch scoring a replay gives the streaming predictions exactly (no Kafka)."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.config import load_config
from streams.runner import EmbeddedRunner
from streams.score import read_file, score
from streams.workload import Workload


@pytest.mark.parametrize("learn", [True, False])
def test_scoring_a_replay_file_equals_the_stream(tmp_path: Path, learn: bool) -> None:
    stream = load_config("riffle.toml").stream("payments")
    messages = list(Workload(n_events=3000, seed=21, bad_rate=0.01).messages())
    live = EmbeddedRunner(stream, batch_size=250).run_sync(messages)
    path = tmp_path / "replay.jsonl"
    path.write_bytes(b"".join(m.value + b"\n" for m in messages))
    out = score(
        stream, read_file(path, stream), stream.model, None, version="payments-lr@1", learn=learn
    )
    assert out.n_dead == len(live.dead) and out.n_events == 3000
    if learn:
        assert [p.to_json() for p in out.predictions] != []
        got = [(p.event_id, p.model, p.prediction, p.proba) for p in out.predictions]
        want = [(p.event_id, p.model, p.prediction, p.proba) for p in live.predictions]
        assert got == want  # bit for bit
    else:
        # a frozen fresh model predicts 0.5 everywhere: nothing was learned
        assert {p.proba for p in out.predictions} == {0.5}


def test_a_version_skips_what_its_lineage_covers(tmp_path: Path) -> None:
    stream = load_config("riffle.toml").stream("payments")
    messages = [m for m in Workload(n_events=1000, seed=3).messages() if m.kind == "event"]
    path = tmp_path / "replay.jsonl"
    path.write_bytes(b"".join(m.value + b"\n" for m in messages))
    lineage = {f"{stream.topics.events}:0": (0, 599)}
    out = score(
        stream,
        read_file(path, stream),
        stream.model,
        None,
        version="payments-lr@1",
        lineage=lineage,
    )
    assert out.n_skipped == 600 and len(out.predictions) == 400
