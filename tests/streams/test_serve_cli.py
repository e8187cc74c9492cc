"""`riffle serve`'s start-up checks (the serving itself runs against the real Redis in
tests/integration/test_serving_http.py)."""

from __future__ import annotations

import pytest

from streams.cli import main


def test_an_unknown_stream_fails_at_start_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--stream", "nope", "--port", "1"]) == 2
    assert "unknown stream 'nope'" in capsys.readouterr().err
