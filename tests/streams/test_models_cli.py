"""`riffle models` on a directory registry: output, exit codes and one-line errors."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import numpy as np
import pytest

from models.registry import Registry
from streams.cli import main
from streams.config import ModelConfig, model_from_config
from streams.registry_redis import model_config, open_registry

KEY = "cli-test-key"


@pytest.fixture
def reg_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("RIFFLE_REGISTRY_KEY", raising=False)
    root = tmp_path / "registry"
    root.mkdir()
    reg = open_registry(root, key=KEY)
    rng = np.random.default_rng(7)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] > 0).astype(np.int64)
    for i, lr in enumerate((0.05, 0.01)):
        cfg = ModelConfig(type="logistic_regression", lr=lr)
        model = model_from_config(cfg)
        model.learn_many(X[: 100 * (i + 1)], y[: 100 * (i + 1)])
        reg.register(
            "fraud",
            model,
            config=model_config(cfg),
            metrics={"accuracy": 0.8 + i / 10},
            lineage={
                "topic": "p.features",
                "offsets": {"p.features:0": [0, 99 + 100 * i]},
                "samples": 100 * (i + 1),
            },
            parent=i or None,
            status="champion" if i == 0 else "challenger",
            actor="ana",
        )
    (tmp_path / "key").write_text(KEY + "\n")
    return root


def run(
    capsys: pytest.CaptureFixture[str], root: Path, *argv: str, key: bool = True
) -> tuple[int, str, str]:
    extra = ["--registry", str(root)]
    if key:
        extra += ["--key-file", str(root.parent / "key")]
    code = main(["models", *argv, *extra])
    out, err = capsys.readouterr()
    return code, out, err


def registry(root: Path) -> Registry:
    return open_registry(root, key=KEY)


def test_list_models_and_versions(reg_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, reg_dir, "list")
    assert code == 0
    assert out.split("\n")[1].split() == ["fraud", "1", "2", "2"]
    code, out, _ = run(capsys, reg_dir, "list", "fraud")
    rows = [line.split()[:4] for line in out.strip().split("\n")[1:]]
    assert rows == [["1", "champion", "-", "100"], ["2", "challenger", "1", "200"]]
    assert "accuracy=0.9" in out
    code, out, _ = run(capsys, reg_dir, "list", "fraud", "--json")
    assert [v["status"] for v in json.loads(out)] == ["champion", "challenger"]


def test_list_of_an_empty_registry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, tmp_path, "list", key=False)
    assert code == 0 and out.strip() == "no models registered"


def test_show_defaults_to_the_champion(reg_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, reg_dir, "show", "fraud", key=False)  # metadata needs no key
    assert code == 0 and "version: 1" in out and 'status: "champion"' in out
    code, out, _ = run(capsys, reg_dir, "show", "fraud@2", "--json")
    shown = json.loads(out)
    assert (shown["version"], shown["parent"], shown["config"]["lr"]) == (2, 1, 0.01)
    assert shown["lineage"]["offsets"] == {"p.features:0": [0, 199]}


def test_promote_then_rollback(reg_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, reg_dir, "promote", "fraud@2", "--reason", "better", "--actor", "bo")
    assert code == 0 and out.strip() == "fraud@2 is the champion of fraud (was fraud@1)"
    assert registry(reg_dir).get("fraud").version == 2
    code, out, _ = run(capsys, reg_dir, "rollback", "fraud", "--reason", "alerts", "--json")
    assert code == 0 and json.loads(out)["version"] == 1 and json.loads(out)["from_version"] == 2
    last = registry(reg_dir).audit("fraud")[-1]
    assert (last.action, last.actor, last.reason) == ("rollback", getpass.getuser(), "alerts")
    code, _, err = run(capsys, reg_dir, "rollback", "fraud", "--reason", "again")
    assert code == 2 and err == "riffle: error: fraud has no previous champion to roll back to\n"


def test_promote_requires_a_reason_and_a_version(
    reg_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        run(capsys, reg_dir, "promote", "fraud@2")
    assert info.value.code == 2 and "--reason" in capsys.readouterr().err
    code, _, err = run(capsys, reg_dir, "promote", "fraud", "--reason", "r")
    assert code == 2 and "promote needs a version" in err


def test_diff(reg_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, reg_dir, "diff", "fraud@1", "fraud@2")
    assert code == 0
    assert "lr: 0.05 -> 0.01" in out and "accuracy: 0.8 -> 0.9 (+0.1)" in out
    assert "1.weights [3]:" in out
    code, out, _ = run(capsys, reg_dir, "diff", "fraud@1", "fraud@2", "--json")
    d = json.loads(out)
    assert d["parameters"]["0.n_samples_seen"]["max_abs_diff"] == 100
    code, _, err = run(capsys, reg_dir, "diff", "fraud@1", "spam@2")
    assert code == 2 and "one model" in err


def test_audit(reg_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, reg_dir, "audit", "fraud", key=False)
    lines = out.strip().split("\n")
    assert code == 0 and len(lines) == 3
    assert "promote  fraud@1 by ana: registered as champion" in lines[1]
    code, out, _ = run(capsys, reg_dir, "audit", "--json", key=False)
    assert [e["action"] for e in json.loads(out)] == ["register", "promote", "register"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["show", "spam"], "unknown model 'spam'; registered: fraud"),
        (["show", "fraud@9"], "fraud has no version 9; versions: 1, 2"),
        (["promote", "fraud@9", "--reason", "r"], "fraud has no version 9; versions: 1, 2"),
        (["diff", "fraud@1", "fraud@3"], "fraud has no version 3; versions: 1, 2"),
        (["list", "spam"], "unknown model 'spam'"),
        (["audit", "spam"], "unknown model 'spam'"),
        (["rollback", "spam", "--reason", "r"], "unknown model 'spam'"),
        (["show", "fraud@x"], "bad model reference 'fraud@x'"),
        (["rollback", "fraud@1", "--reason", "r"], "rollback takes a model name"),
    ],
)
def test_errors_are_one_line_with_exit_code_2(
    reg_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, reg_dir, *argv)
    assert code == 2 and out == ""
    assert err.startswith("riffle: error: ") and message in err and err.count("\n") == 1


def test_tampered_artifacts_are_refused(reg_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    artifact = reg_dir / "fraud" / "v2" / "artifact"
    data = bytearray(artifact.read_bytes())
    data[-1] ^= 1
    artifact.write_bytes(bytes(data))
    for argv in (["promote", "fraud@2", "--reason", "r"], ["diff", "fraud@1", "fraud@2"]):
        code, _, err = run(capsys, reg_dir, *argv)
        assert code == 2 and "artifact fraud@2 was modified" in err and err.count("\n") == 1
    assert registry(reg_dir).get("fraud").version == 1


def test_the_key_comes_from_the_environment_or_is_asked_for(
    reg_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(capsys, reg_dir, "diff", "fraud@1", "fraud@2", key=False)
    assert code == 2 and "no signing key" in err and "RIFFLE_REGISTRY_KEY" in err
    monkeypatch.setenv("RIFFLE_REGISTRY_KEY", "wrong")
    code, _, err = run(capsys, reg_dir, "diff", "fraud@1", "fraud@2", key=False)
    assert code == 2 and "signed with another key" in err
    monkeypatch.setenv("RIFFLE_REGISTRY_KEY", KEY)
    code, _, _ = run(capsys, reg_dir, "diff", "fraud@1", "fraud@2", key=False)
    assert code == 0


def test_a_missing_registry_or_key_file_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, tmp_path / "nowhere", "list", key=False)
    assert code == 2 and "no registry at" in err
    code = main(["models", "list", "--registry", str(tmp_path), "--key-file", str(tmp_path / "k")])
    assert code == 2 and "No such file" in capsys.readouterr().err
