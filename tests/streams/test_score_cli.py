"""`riffle score` on a directory registry: a summary and predictions, clear errors."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streams.cli import main
from streams.config import load_config, model_from_config
from streams.registry_redis import model_config, open_registry
from streams.workload import Workload

KEY = "score-cli-test-key"


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    stream = load_config("riffle.toml").stream()
    reg_dir = tmp_path / "registry"
    reg_dir.mkdir()
    reg = open_registry(reg_dir, key=KEY)
    model = model_from_config(stream.model)
    reg.register(stream.model.name, model, config=model_config(stream.model), status="champion")
    replay = tmp_path / "replay.jsonl"
    messages = Workload(n_events=500, seed=4, bad_rate=0.02).messages()
    replay.write_bytes(b"".join(m.value + b"\n" for m in messages))
    monkeypatch.setenv("RIFFLE_REGISTRY_KEY", KEY)
    return reg_dir, replay


def _score(reg_dir: Path, replay: Path, out: Path, ref: str) -> int:
    argv = ["score", "--model", ref, "--input", str(replay), "--output", str(out)]
    return main([*argv, "--registry", str(reg_dir)])


def test_score_writes_predictions_and_a_summary(
    setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reg_dir, replay = setup
    out = tmp_path / "out.jsonl"
    assert _score(reg_dir, replay, out, "payments-lr@1") == 0
    summary = orjson.loads(capsys.readouterr().out)
    lines = out.read_bytes().splitlines()
    assert summary["predictions"] == len(lines) > 0
    assert summary["predictions"] + summary["dead_letters"] == summary["events"] == 500
    assert {orjson.loads(x)["model"] for x in lines} == {"payments-lr@1"}


def test_unknown_version_and_tampered_artifact_exit_2(
    setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reg_dir, replay = setup
    out = tmp_path / "out.jsonl"
    assert _score(reg_dir, replay, out, "payments-lr@7") == 2
    assert "no version 7; versions: 1" in capsys.readouterr().err
    artifact = next(p for p in reg_dir.rglob("*") if p.is_file() and "artifact" in p.name)
    data = bytearray(artifact.read_bytes())
    data[-1] ^= 1
    artifact.write_bytes(bytes(data))
    assert _score(reg_dir, replay, out, "payments-lr@1") == 2
    err = capsys.readouterr().err
    assert "signature mismatch" in err and "payments-lr@1" in err and "refusing" in err
