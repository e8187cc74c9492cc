"""Feature serving over HTTP from a real `riffle worker` process reading the real Redis."""

from __future__ import annotations

import http.client
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from featurestore import (
    AsyncFeatureClient,
    BatchTooLargeError,
    FeatureClient,
    FeatureRecord,
    FeatureView,
    InvalidRequestError,
    RedisStore,
    UnknownViewError,
)
from streams.config import load_config
from tests.conftest import ROOT

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Served:
    url: str
    port: int
    redis_url: str
    view: FeatureView


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module", params=["worker", "serve"])
def served(
    services: tuple[str, str], tmp_path_factory: pytest.TempPathFactory, request: Any
) -> Iterator[Served]:
    """Every test against `riffle worker --stages features` and against `riffle serve` (the
    same routes in a process of its own), each on its own view name and port."""
    tmp = tmp_path_factory.mktemp("serving")
    name = f"s{uuid.uuid4().hex[:8]}"
    port = _free_port()
    text = (ROOT / "riffle.toml").read_text().replace("streams.payments", f"streams.{name}")
    text = text.replace("web_port = 6066", f"web_port = {port}")
    text = text.replace('name = "payments"', f'name = "{name}"')
    path = tmp / "riffle.toml"
    path.write_text(text)
    kafka, redis = services
    env = {**os.environ, "RIFFLE_KAFKA_BOOTSTRAP": kafka, "RIFFLE_REDIS_URL": redis}
    view = load_config(path, env).stream().view
    log_path = tmp / "worker.log"
    log = log_path.open("w")
    cmd = [sys.executable, "-m", "streams.cli", "--config", str(path)]
    if request.param == "worker":
        cmd += ["worker", "--stages", "features"]
    else:
        cmd += ["serve", "--port", str(port), "--stream", name]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log_path.read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if json.loads(r.read())["ok"]:
                        break
            except (OSError, urllib.error.HTTPError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"riffle {request.param} never became healthy")
            time.sleep(0.5)
        yield Served(f"http://127.0.0.1:{port}", port, redis, view)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        log.close()
    assert code == 0, log_path.read_text()[-3000:]


EXACT = [0.1, 1 / 3, -0.0, 5e-324, 1.7976931348623157e308, math.pi, -2.5e-17, 7.0, 2.0]


def _values(view: FeatureView, shift: int = 0) -> list[float]:
    """Bit-exactness probes, as many as the view has features (the demo view changes)."""
    return [EXACT[(i + shift) % len(EXACT)] for i in range(len(view.feature_names))]


async def _write(served: Served, vectors: dict[str, tuple[int, list[float]]]) -> None:
    view = served.view
    store = RedisStore(served.redis_url)
    await store.start()
    try:
        records = [
            FeatureRecord(
                "e", entity, ts, values, None, view.name, view.version, names=view.feature_names
            )
            for entity, (ts, values) in vectors.items()
        ]
        await store.write_many(view, records)
    finally:
        await store.stop()


def _raw(served: Served, method: str, path: str, body: bytes | None = None) -> tuple[int, str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=5)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body, headers)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type", ""), orjson.loads(resp.read())
    finally:
        conn.close()


async def test_feature_client_reads_what_the_store_wrote(served: Served) -> None:
    view = served.view
    names = view.feature_names
    alice_values, bob_values = _values(view), _values(view, shift=4)
    now = int(time.time() * 1000)
    await _write(served, {"alice": (now - 1_500, alice_values), "bob": (now - 10, bob_values)})
    with FeatureClient(served.url) as client:
        alice = client.get(view.name, "alice")
        assert alice.found and alice.entity == "alice"
        assert alice.values == dict(zip(names, alice_values, strict=True))
        assert [math.copysign(1, alice.values[n]) for n in names] == [
            math.copysign(1, v) for v in alice_values
        ]  # -0.0 survives the round trip
        assert alice.event_ts == now - 1_500
        assert alice.written_at is not None and now <= alice.written_at <= now + 5_000
        assert alice.age_ms is not None and 1_500 <= alice.age_ms <= 1_500 + 5_000
        missing = client.get(view.name, "nobody")
        assert (missing.found, missing.values, missing.event_ts, missing.age_ms) == (
            False,
            None,
            None,
            None,
        )
        batch = client.get_many(view.name, ["bob", "nobody", "alice", "bob"])
        assert [(v.entity, v.found) for v in batch] == [
            ("bob", True),
            ("nobody", False),
            ("alice", True),
            ("bob", True),
        ]
        assert batch[0].values == dict(zip(names, bob_values, strict=True))
        assert batch[2].values == alice.values
        with pytest.raises(UnknownViewError, match=f"'nope'; serving \\[.*'{view.name}'"):
            client.get("nope", "alice")
        with pytest.raises(UnknownViewError, match="'nope'"):
            client.get_many("nope", ["alice"])
        with pytest.raises(BatchTooLargeError, match="1001 entities in one request; at most 1000"):
            client.get_many(view.name, [f"e{i}" for i in range(1001)])
    async with AsyncFeatureClient(served.url) as aclient:
        assert (await aclient.get(view.name, "alice")).values == alice.values
        abatch = await aclient.get_many(view.name, ["bob", "nobody"])
        assert [v.found for v in abatch] == [True, False]
        with pytest.raises(UnknownViewError, match="'nope'"):
            await aclient.get("nope", "alice")


async def test_raw_http_answers_json(served: Served) -> None:
    view = served.view
    now = int(time.time() * 1000)
    values = _values(view)
    await _write(served, {"a/b c": (now - 100, values), "7": (now - 200, values)})
    status, ctype, body = _raw(served, "GET", f"/features/{view.name}/a%2Fb%20c")
    assert status == 200 and ctype.startswith("application/json")
    assert list(body) == [
        "view",
        "version",
        "entity",
        "found",
        "values",
        "event_ts",
        "age_ms",
        "written_at",
    ]
    assert (body["view"], body["version"], body["entity"], body["found"]) == (
        view.name,
        view.version,
        "a/b c",
        True,
    )
    assert body["values"] == dict(zip(view.feature_names, values, strict=True))
    status, _, body = _raw(
        served, "POST", f"/features/{view.name}", b'{"entities": [7, "a/b c", "x"]}'
    )
    assert status == 200
    assert (body["view"], body["version"]) == (view.name, view.version)
    assert [(r["entity"], r["found"]) for r in body["results"]] == [
        ("7", True),
        ("a/b c", True),
        ("x", False),
    ]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("GET", "/features/nope/alice", None), ("POST", "/features/nope", b"not even json")],
)
def test_unknown_view_is_404_naming_it(
    served: Served, method: str, path: str, body: bytes | None
) -> None:
    status, ctype, answer = _raw(served, method, path, body)
    assert status == 404 and ctype.startswith("application/json")
    assert answer["view"] == "nope"
    assert answer["error"].startswith("unknown feature view 'nope'; serving [")
    assert f"'{served.view.name}'" in answer["error"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"", 400, "not valid JSON"),
        (b"{entities", 400, "not valid JSON"),
        (b'["alice"]', 400, "must be a JSON object"),
        (b'{"entities": "alice"}', 400, "'entities' must be a list"),
        (b'{"entities": ["alice"], "extra": 1}', 400, "unknown request keys ['extra']"),
        (b'{"entities": [null]}', 400, "entity ids must be"),
        (orjson.dumps({"entities": ["e"] * 1001}), 413, "at most 1000"),
    ],
)
def test_bad_bodies_are_json_4xx(served: Served, body: bytes, status: int, message: str) -> None:
    got, ctype, answer = _raw(served, "POST", f"/features/{served.view.name}", body)
    assert (got, ctype.split(";")[0]) == (status, "application/json")
    assert message in answer["error"]


def test_client_errors_for_bad_requests_come_from_the_server(served: Served) -> None:
    with FeatureClient(served.url) as client, pytest.raises(InvalidRequestError):
        client.get_many(served.view.name, [""])
