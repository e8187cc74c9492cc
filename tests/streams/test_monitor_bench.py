"""`riffle bench monitor` on tiny streams: the result's structure, and River's drift indices."""

from __future__ import annotations

import json
from typing import Any

import pytest

from streams import monitor_bench
from streams.exceptions import RiffleError

TINY = {
    "events": 4000,
    "runs": 1,
    "batch": 256,
    "kswin_events": 1500,
    "seeds": 2,
    "shift": 1500,
    "after": 800,
    "data_drift": {"n_bootstraps": 300, "n_reference": 300, "window_size": 50},
}


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "monitor.json"
    res = monitor_bench.run(**TINY, output=str(out))
    assert json.loads(out.read_text()) == res
    return res


def test_header(result: dict[str, Any]) -> None:
    assert result["benchmark"] == "monitor"
    assert result["cores"] >= 1
    assert (result["events"], result["kswin_events"], result["runs"]) == (4000, 1500, 1)


def test_river_paired_detectors_flag_river_s_indices(result: dict[str, Any]) -> None:
    rows = {row["detector"]: row for row in result["drift"]}
    assert list(rows) == list(monitor_bench.PAIRED)
    for name, row in rows.items():
        assert row["identical"] is True, name
        assert row["drifts"] >= 1, name
        assert row["events"] == (1500 if name == "KSWIN" else 4000)
        for key in ("river_updates_per_s", "ours_update_per_s", "ours_update_many_per_s"):
            assert row[key] > 0


def test_half_space_trees_and_data_drift(result: dict[str, Any]) -> None:
    (hst,) = result["anomaly"]
    assert hst["events"] == 4000 and hst["anomalies"] > 0
    assert 0.5 < hst["river_roc_auc"] <= 1.0 and 0.5 < hst["ours_roc_auc"] <= 1.0
    assert [row["detector"] for row in result["data_drift"]] == list(monitor_bench.DATA_DRIFT)
    assert all(row["ours_update_many_per_s"] > 0 for row in result["data_drift"])


def test_delays(result: dict[str, Any]) -> None:
    cases = [(row["stream"], row["detector"]) for row in result["delays"]]
    assert cases == [(k, n) for k, names in monitor_bench.DELAY_CASES.items() for n in names]
    for row in result["delays"]:
        assert row["missed"] + (row["median_delay"] is not None) >= 1
        assert row["false_alarms_per_10k"] >= 0
    found = {(r["stream"], r["detector"]): r["median_delay"] for r in result["delays"]}
    assert found["gaussian", "ADWIN"] is not None  # a 1-sigma shift is caught within 800


def test_output_is_optional() -> None:
    small = {**TINY, "events": 500, "kswin_events": 300, "seeds": 1, "shift": 400, "after": 100}
    assert "delays" in monitor_bench.run(**small)


def test_without_river_the_error_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_river(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "river" or name.startswith("river."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_river)
    with pytest.raises(RiffleError, match=r"pip install -e '\.\[test\]'"):
        monitor_bench.run(events=10)
