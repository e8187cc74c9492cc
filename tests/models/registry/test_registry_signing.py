"""Artifacts are signed: modified, unsigned or foreign artifacts are refused, never loaded."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from models.registry import (
    Artifact,
    MemoryBackend,
    MissingKeyError,
    Registry,
    RegistryBackend,
    TamperedArtifactError,
    UnknownModelError,
    UnsignedArtifactError,
)
from streams.config import ModelConfig
from streams.registry_redis import build_model, model_config
from tests.models.registry.fixtures import KEY, trained

SIG_END = 5 + 1 + 32  # magic, signature length, signature


def _layout(data: bytes) -> tuple[int, int]:
    """(start of the header JSON, start of the array bytes) of an artifact."""
    (hlen,) = struct.unpack(">I", data[SIG_END : SIG_END + 4])
    header_start = SIG_END + 4
    state_bytes = int(data[header_start : header_start + hlen].split(b'"state_bytes":')[1][:-1])
    return header_start, header_start + hlen + state_bytes


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


@pytest.fixture
def stored(registry: Registry) -> tuple[Registry, RegistryBackend, bytes]:
    cfg = ModelConfig(type="logistic_regression")
    registry.register("fraud", trained(cfg), config=model_config(cfg))
    return registry, registry.catalog.backend, registry.artifact("fraud", 1)


def _refuses(registry: Registry, error: type[Exception], match: str) -> None:
    for read in (lambda: registry.load("fraud", 1), lambda: registry.state("fraud", 1)):
        with pytest.raises(error, match=match):
            read()


@pytest.mark.parametrize("where", ["header", "state", "arrays", "last", "signature"])
def test_one_flipped_byte_anywhere_is_refused(
    stored: tuple[Registry, RegistryBackend, bytes], where: str
) -> None:
    registry, backend, data = stored
    header, arrays = _layout(data)
    at = {
        "header": header + 10,
        "state": arrays - 5,
        "arrays": arrays + 3,
        "last": len(data) - 1,
        "signature": 20,
    }[where]
    backend.put("fraud:v1:artifact", _flip(data, at))
    _refuses(registry, TamperedArtifactError, "artifact fraud@1 was modified")


def test_truncated_and_extended_artifacts_are_refused(
    stored: tuple[Registry, RegistryBackend, bytes],
) -> None:
    registry, backend, data = stored
    for bad in (data[:-8], data + b"\x00", data[:SIG_END]):
        backend.put("fraud:v1:artifact", bad)
        _refuses(registry, TamperedArtifactError, "fraud@1")


def test_not_an_artifact_is_refused(stored: tuple[Registry, RegistryBackend, bytes]) -> None:
    registry, backend, data = stored
    for bad in (b"", b"\x80\x04pickle", _flip(data, 0)):
        backend.put("fraud:v1:artifact", bad)
        _refuses(registry, TamperedArtifactError, "not a riffle model artifact")


def test_unsigned_artifact_is_refused(stored: tuple[Registry, RegistryBackend, bytes]) -> None:
    registry, backend, data = stored
    unsigned = data[:5] + b"\x00" + data[SIG_END:]
    backend.put("fraud:v1:artifact", unsigned)
    _refuses(registry, UnsignedArtifactError, "artifact fraud@1 is not signed")


def test_wrong_key_is_refused(stored: tuple[Registry, RegistryBackend, bytes]) -> None:
    _, backend, _ = stored
    other = Registry(backend, key=b"another key", factory=build_model)
    with pytest.raises(TamperedArtifactError, match="signed with another key"):
        other.load("fraud", 1)


def test_artifact_moved_to_another_version_is_refused(
    stored: tuple[Registry, RegistryBackend, bytes],
) -> None:
    registry, backend, data = stored
    cfg = ModelConfig(type="logistic_regression")
    registry.register("fraud", trained(cfg, seed=1), config=model_config(cfg))
    backend.put("fraud:v2:artifact", data)  # validly signed, but v1's
    with pytest.raises(TamperedArtifactError, match="fraud@2 holds the signed artifact of fraud@1"):
        registry.load("fraud", 2)


def test_tampered_artifact_cannot_be_promoted(
    stored: tuple[Registry, RegistryBackend, bytes],
) -> None:
    registry, backend, data = stored
    backend.put("fraud:v1:artifact", _flip(data, len(data) - 1))
    with pytest.raises(TamperedArtifactError):
        registry.promote("fraud", 1, reason="r", actor="a")
    assert registry.get("fraud").status == "challenger" and registry.audit("fraud")[-1].action == (
        "register"
    )


def test_a_registry_without_a_key_refuses_to_save_or_load() -> None:
    backend = MemoryBackend()
    keyless = Registry(backend, factory=build_model)
    cfg = ModelConfig(type="gaussian_nb")
    with pytest.raises(MissingKeyError, match="unsigned"):
        keyless.register("nb", trained(cfg), config=model_config(cfg))
    with pytest.raises(UnknownModelError):  # nothing was allocated or written
        keyless.get("nb")
    Registry(backend, key=KEY).register("nb", trained(cfg), config=model_config(cfg))
    assert keyless.get("nb").version == 1  # metadata needs no key
    with pytest.raises(MissingKeyError, match="no signing key"):
        keyless.load("nb")


def test_empty_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        Registry(MemoryBackend(), key="")
    with pytest.raises(MissingKeyError):
        Artifact({}, {}).to_bytes(None)


def test_str_and_bytes_keys_are_the_same_key() -> None:
    data = Artifact({"a": 1}, {"w": np.ones(2)}).to_bytes("clé")
    assert Artifact.from_bytes(data, "clé".encode()).info == {"a": 1}


def test_artifacts_hold_no_pickle(stored: tuple[Registry, RegistryBackend, bytes]) -> None:
    _, _, data = stored
    assert b"\x80\x04" not in data[: SIG_END + 200] and data.startswith(b"RFMA1")
    with pytest.raises(ValueError, match="object arrays"):
        Artifact({}, {"o": np.array([object()])}).to_bytes(KEY)
