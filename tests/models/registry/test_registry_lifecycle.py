"""Version numbers, lookups, status rules, promotion, rollback and the audit log."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from models.exceptions import ModelError
from models.registry import (
    DirectoryBackend,
    InvalidTransitionError,
    Lineage,
    Registry,
    UnknownModelError,
    UnknownVersionError,
    parse_ref,
)
from models.registry.exceptions import RegistryError
from streams.config import ModelConfig
from streams.registry_redis import model_config
from tests.models.registry.fixtures import KEY, trained

CFG = ModelConfig(type="logistic_regression")


def _register(registry: Registry, name: str = "fraud", **kw: object) -> int:
    return registry.register(name, trained(CFG), config=model_config(CFG), **kw).version  # type: ignore[arg-type]


def _champions(registry: Registry, name: str = "fraud") -> list[int]:
    return [v.version for v in registry.versions(name) if v.status == "champion"]


def test_versions_count_up_per_name(registry: Registry) -> None:
    assert [_register(registry, "a"), _register(registry, "a"), _register(registry, "b")] == [
        1,
        2,
        1,
    ]
    assert registry.names() == ["a", "b"]
    assert [v.version for v in registry.versions("a")] == [1, 2]


def test_unknown_model_names_the_name_and_lists_the_known_ones(registry: Registry) -> None:
    _register(registry, "churn")
    _register(registry, "spam")
    for call in (
        lambda: registry.get("fraud"),
        lambda: registry.versions("fraud"),
        lambda: registry.load("fraud", 1),
        lambda: registry.promote("fraud", 1, reason="r", actor="a"),
    ):
        with pytest.raises(UnknownModelError) as info:
            call()
        assert str(info.value) == "unknown model 'fraud'; registered: churn, spam"
    assert isinstance(info.value, RegistryError) and isinstance(info.value, ModelError)
    assert isinstance(info.value, LookupError)


def test_unknown_version_names_the_versions_that_exist(registry: Registry) -> None:
    _register(registry)
    _register(registry)
    with pytest.raises(UnknownVersionError, match=r"^fraud has no version 7; versions: 1, 2$"):
        registry.get("fraud", 7)
    with pytest.raises(UnknownVersionError, match="fraud has no champion; versions: 1, 2"):
        registry.get("fraud", "champion")
    with pytest.raises(UnknownVersionError, match="no version 3"):
        registry.register("fraud", trained(CFG), config=model_config(CFG), parent=3)


def test_get_without_a_version_is_the_champion_else_the_latest(registry: Registry) -> None:
    _register(registry)
    _register(registry)
    assert registry.get("fraud").version == 2 and registry.get("fraud", "latest").version == 2
    registry.promote("fraud", 1, reason="r", actor="a")
    assert registry.get("fraud").version == 1 and registry.get("fraud", "latest").version == 2


def test_at_most_one_champion_and_the_old_one_is_retired(two_versions: Registry) -> None:
    reg = two_versions
    assert _champions(reg) == [1]
    v = reg.promote("fraud", 2, reason="better AUC", actor="ana")
    assert v.status == "champion" and _champions(reg) == [2]
    assert reg.get("fraud", 1).status == "retired"
    reg.promote("fraud", 1, reason="back", actor="ana")  # a retired version can come back
    assert _champions(reg) == [1] and reg.get("fraud", 2).status == "retired"
    with pytest.raises(InvalidTransitionError, match="already the champion"):
        reg.promote("fraud", 1, reason="again", actor="ana")


def test_rollback_restores_previous_champions_in_order(registry: Registry) -> None:
    for _ in range(3):
        _register(registry)
    with pytest.raises(InvalidTransitionError, match="no previous champion"):
        registry.rollback("fraud", reason="r", actor="a")
    for n in (1, 2, 3):
        registry.promote("fraud", n, reason=f"p{n}", actor="ana")
    assert registry.rollback("fraud", reason="alert", actor="bob").version == 2
    assert _champions(registry) == [2] and registry.get("fraud", 3).status == "retired"
    assert registry.rollback("fraud", reason="alert again", actor="bob").version == 1
    assert _champions(registry) == [1]
    with pytest.raises(InvalidTransitionError, match="fraud has no previous champion"):
        registry.rollback("fraud", reason="r", actor="a")
    registry.promote("fraud", 3, reason="fixed", actor="ana")
    assert registry.rollback("fraud", reason="no", actor="bob").version == 1


def test_the_audit_log_records_who_did_what_and_why(two_versions: Registry) -> None:
    reg = two_versions
    reg.promote("fraud", 2, reason="better AUC", actor="ana")
    reg.rollback("fraud", reason="alert storm", actor="bob")
    reg.set_status("fraud", 2, "retired", reason="dead end", actor="bob")
    reg.set_status("fraud", 2, "shadow", reason="watch it", actor="cy")
    rows = [
        (e.action, e.version, e.from_version, e.actor, e.reason, e.status)
        for e in reg.audit("fraud")
    ]
    assert rows == [
        ("register", 1, None, "ana", "", "challenger"),
        ("promote", 1, None, "ana", "registered as champion", "champion"),
        ("register", 2, None, "riffle", "", "challenger"),
        ("promote", 2, 1, "ana", "better AUC", "champion"),
        ("rollback", 1, 2, "bob", "alert storm", "champion"),
        ("retire", 2, None, "bob", "dead end", "retired"),
        ("status", 2, None, "cy", "watch it", "shadow"),
    ]
    times = [e.ts for e in reg.audit("fraud")]
    assert times == sorted(times)
    _register(reg, "spam")
    assert [e.name for e in reg.audit()] == ["fraud"] * 7 + ["spam"]


def test_the_audit_log_is_append_only_on_disk(tmp_path: Path) -> None:
    reg = Registry(DirectoryBackend(tmp_path), key=KEY)
    _register(reg)
    log = (tmp_path / "audit.jsonl").read_bytes()
    _register(reg)
    reg.promote("fraud", 2, reason="r", actor="a")
    grown = (tmp_path / "audit.jsonl").read_bytes()
    assert grown.startswith(log) and grown.count(b"\n") == 3


def test_a_line_cut_short_by_a_crash_is_ignored(tmp_path: Path) -> None:
    reg = Registry(DirectoryBackend(tmp_path), key=KEY)
    _register(reg)
    with open(tmp_path / "audit.jsonl", "ab") as fh:
        fh.write(b'{"ts": 1, "act')
    assert [e.action for e in reg.audit()] == ["register"]


def test_the_champion_changes_only_by_promotion_or_rollback(two_versions: Registry) -> None:
    reg = two_versions
    with pytest.raises(InvalidTransitionError, match="fraud@1 is the champion"):
        reg.set_status("fraud", 1, "retired", reason="r", actor="a")
    assert reg.set_status("fraud", 2, "champion", reason="r", actor="a").status == "champion"
    assert _champions(reg) == [2]
    with pytest.raises(ValueError, match="status must be one of"):
        reg.set_status("fraud", 1, "winner", reason="r", actor="a")
    with pytest.raises(ValueError, match="status must be one of"):
        _register(reg, status="best")


def test_update_metrics_merges_and_validates(two_versions: Registry) -> None:
    reg = two_versions
    reg.update_metrics("fraud", 2, {"accuracy": 0.9})
    v = reg.update_metrics("fraud", 2, {"log_loss": 0.3, "accuracy": 0.91})
    assert v.metrics == {"accuracy": 0.91, "log_loss": 0.3}
    assert reg.audit("fraud")[-1].action == "register"  # metrics are not audited
    for bad in ({"accuracy": float("nan")}, {"accuracy": "high"}, {"ok": True}):
        with pytest.raises(ValueError, match="finite"):
            reg.update_metrics("fraud", 2, bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["", "a:b", "a@1", "../x", "-x", "a b", "x" * 200])
def test_bad_names_are_refused(registry: Registry, name: str) -> None:
    with pytest.raises(ValueError, match="invalid model name"):
        _register(registry, name)


def test_bad_lineage_and_config_are_refused(registry: Registry) -> None:
    with pytest.raises(ValueError, match="first 9 > last 1"):
        _register(registry, lineage={"offsets": {"t:0": [9, 1]}})
    with pytest.raises(ValueError, match="unknown lineage keys"):
        _register(registry, lineage={"topics": "t"})
    with pytest.raises(ValueError, match="config must be plain JSON"):
        registry.register("fraud", trained(CFG), config={"f": object()})
    assert Lineage.from_dict(Lineage(samples=3).to_dict()).samples == 3


@pytest.mark.parametrize(
    ("ref", "parsed"),
    [
        ("fraud", ("fraud", None)),
        ("fraud@2", ("fraud", 2)),
        ("fraud@v12", ("fraud", 12)),
        ("fraud@champion", ("fraud", "champion")),
        ("fraud@latest", ("fraud", "latest")),
        ("fraud.v2-b_c@1", ("fraud.v2-b_c", 1)),
    ],
)
def test_parse_ref(ref: str, parsed: tuple[str, object]) -> None:
    assert parse_ref(ref) == parsed


@pytest.mark.parametrize(
    "ref", ["", "@1", "fraud@", "fraud@0", "fraud@-1", "fraud@x", "a@1@2", "a:b"]
)
def test_parse_ref_refuses_bad_syntax(ref: str) -> None:
    with pytest.raises(ValueError, match=f"bad model reference {ref!r}: expected NAME"):
        parse_ref(ref)


def _allocate(root: str, n: int, out: multiprocessing.Queue[list[int]]) -> None:
    reg = Registry(DirectoryBackend(root), key=KEY)
    out.put([_register(reg, "race") for _ in range(n)])


def test_concurrent_writers_never_share_a_version_number(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue[list[int]] = ctx.Queue()
    procs = [ctx.Process(target=_allocate, args=(str(tmp_path), 5, out)) for _ in range(4)]
    for p in procs:
        p.start()
    got = sorted(v for _ in procs for v in out.get(timeout=60))
    for p in procs:
        p.join(timeout=60)
    assert got == list(range(1, 21))
    reg = Registry(DirectoryBackend(tmp_path), key=KEY)
    assert [v.version for v in reg.versions("race")] == got
    assert sum(e.action == "register" for e in reg.audit("race")) == 20
