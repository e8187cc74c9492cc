from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from streams.config import StreamConfig
from streams.runner import EmbeddedRunner
from streams.workload import Message, Workload


@pytest.fixture(scope="module")
def messages() -> list[Message]:
    return list(Workload(n_events=6_000, shift_at=3_000, seed=9, bad_rate=0.01).messages())


def test_every_event_is_predicted_or_dead_lettered(
    stream: StreamConfig, messages: list[Message]
) -> None:
    res = EmbeddedRunner(stream).run_sync(messages)
    bad = [m for m in messages if m.kind == "event" and m.bad]
    assert len(res.predictions) + len(res.dead) == 6_000
    assert sorted(d.offset for d in res.dead) == sorted(m.index for m in bad)
    assert {d.reason for d in res.dead} == {
        "malformed_json",
        "missing_field",
        "wrong_type",
        "non_finite",
        "oversized",
        "late_event",
    }
    assert len({p.event_id for p in res.predictions}) == len(res.predictions)


@pytest.mark.parametrize("batch_size", [1, 37, 5_000])
def test_batch_size_does_not_change_predictions(
    stream: StreamConfig, messages: list[Message], batch_size: int
) -> None:
    # configured challengers and the gate are batching-independent; a drift-started
    # challenger starts when the alert reaches the learner (the next embedded batch)
    stream = dataclasses.replace(
        stream, deployment=dataclasses.replace(stream.deployment, drift_challenger=False)
    )
    reference = EmbeddedRunner(stream, batch_size=1000).run_sync(messages)
    other = EmbeddedRunner(stream, batch_size=batch_size).run_sync(messages)
    np.testing.assert_array_equal(
        [p.proba for p in other.predictions], [p.proba for p in reference.predictions]
    )
    assert [a.id for a in other.alerts if a.kind == "anomaly"] == [
        a.id for a in reference.alerts if a.kind == "anomaly"
    ]


def test_drift_after_the_shift_and_injected_anomalies_flagged(stream: StreamConfig) -> None:
    wl = Workload(n_events=20_000, shift_at=10_000, seed=42)
    res = EmbeddedRunner(stream).run_sync(wl.messages())
    drift = [int(a.details["event_id"].rsplit("-", 1)[1]) for a in res.alerts if a.kind == "drift"]
    assert any(10_000 <= i < 11_000 for i in drift), drift
    injected = {f"e42-{m.index}" for m in wl.messages() if m.kind == "event" and m.anomaly}
    flagged = {a.details["event_id"] for a in res.alerts if a.kind == "anomaly"}
    assert len(injected & flagged) >= 0.75 * len(injected)


def test_malformed_labels_go_to_the_dead_letters(stream: StreamConfig) -> None:
    msgs = [
        Message(
            "event",
            b"a",
            b'{"id": "1", "entity": "a", "ts": 1, "amount": 1.0, "duration": 1.0, '
            b'"items": 1.0, "risk": 0.1, "merchant": "m", "channel": "web"}',
            0,
        ),
        Message("label", b"a", b'{"event_id": "1", "label": 7}', 0),
        Message("label", b"a", b"not json", 0),
        Message("label", b"a", b'{"event_id": "1", "label": 1}', 0),
    ]
    runner = EmbeddedRunner(stream)
    res = runner.run_sync(msgs)
    assert [(d.stage, d.reason) for d in res.dead] == [
        ("labels", "invalid_label"),
        ("labels", "malformed_json"),
    ]
    assert runner.learner.n_learned == 1
