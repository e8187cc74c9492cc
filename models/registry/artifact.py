"""A model version's learned state as signed bytes: numpy arrays + a JSON header, no pickle.

Layout::

    b"RFMA1" | signature length (1 byte: 32) | HMAC-SHA256 signature | body
    body = header length (4 bytes, big-endian) | header JSON | state JSON | raw array bytes

The header holds the version's immutable facts (name, version, model config, lineage, parent,
creation time) and the arrays' dtypes and shapes; the state JSON is `state_dict()` with its
arrays replaced by references (`models.serialization`). The signature is an HMAC-SHA256 of the
magic and the whole body under the registry's key, checked with `hmac.compare_digest` before a
single byte of the body is parsed.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from models.registry.exceptions import (
    MissingKeyError,
    RegistryError,
    TamperedArtifactError,
    UnsignedArtifactError,
)
from models.serialization import array_specs, decode_tree, encode_tree, join_arrays, split_arrays

__all__ = ["MAGIC", "Artifact", "signing_key"]

MAGIC = b"RFMA1"
_DIGEST = hashlib.sha256().digest_size  # 32
_FORMAT = 1


def signing_key(key: bytes | str | None) -> bytes | None:
    """The key as bytes (a str is UTF-8 encoded); None stays None, an empty key is refused.

    >>> signing_key("s3cret"), signing_key(None)
    (b's3cret', None)
    """
    if key is None:
        return None
    raw = key.encode() if isinstance(key, str) else bytes(key)
    if not raw:
        raise ValueError("the registry signing key must not be empty")
    return raw


@dataclass(frozen=True)
class Artifact:
    """The signed, self-describing bytes of one model version.

    `info` holds the version's immutable facts (JSON), `state` the estimator's `state_dict()`.

    Examples
    --------
    >>> import numpy as np
    >>> art = Artifact({"name": "m", "version": 1}, {"w": np.arange(3.0), "n": 3})
    >>> data = art.to_bytes(b"key")
    >>> back = Artifact.from_bytes(data, b"key")
    >>> back.info, back.state["w"].tolist(), back.state["n"]
    ({'name': 'm', 'version': 1}, [0.0, 1.0, 2.0], 3)
    >>> Artifact.from_bytes(data, b"other key")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    models.registry.exceptions.TamperedArtifactError: artifact signature mismatch: ...
    """

    info: Mapping[str, Any]
    state: Mapping[str, Any]

    def to_bytes(self, key: bytes | str | None) -> bytes:
        """The signed artifact; refuses (`MissingKeyError`) to write one without a key."""
        raw_key = signing_key(key)
        if raw_key is None:
            raise MissingKeyError(
                "refusing to write an unsigned model artifact: give the registry a signing key"
            )
        state, arrays = encode_tree(dict(self.state))
        header = orjson.dumps(
            {
                "format": _FORMAT,
                "model": dict(self.info),
                "arrays": array_specs(arrays),
                "state_bytes": len(state),
            }
        )
        body = struct.pack(">I", len(header)) + header + state + join_arrays(arrays)
        signature = hmac.new(raw_key, MAGIC + body, hashlib.sha256).digest()
        return MAGIC + bytes([_DIGEST]) + signature + body

    @classmethod
    def from_bytes(
        cls, data: bytes, key: bytes | str | None, *, what: str = "artifact"
    ) -> Artifact:
        """Verify the signature, then decode. `what` names the artifact in error messages.

        Raises `TamperedArtifactError` if the bytes are not an artifact or the signature does
        not match them (modified bytes or another key), `UnsignedArtifactError` if there is no
        signature, `MissingKeyError` without a key to check it with.
        """
        data = bytes(data)
        if len(data) < len(MAGIC) + 1 or not data.startswith(MAGIC):
            raise TamperedArtifactError(f"{what} is not a riffle model artifact (bad magic)")
        sig_len = data[len(MAGIC)]
        if sig_len == 0:
            raise UnsignedArtifactError(f"{what} is not signed; refusing to load it")
        start = len(MAGIC) + 1 + sig_len
        if sig_len != _DIGEST or len(data) < start + 4:
            raise TamperedArtifactError(f"{what} is corrupt: bad signature block")
        raw_key = signing_key(key)
        if raw_key is None:
            raise MissingKeyError(f"cannot verify {what}: the registry has no signing key")
        body = data[start:]
        expected = hmac.new(raw_key, MAGIC + body, hashlib.sha256).digest()
        if not hmac.compare_digest(expected, data[len(MAGIC) + 1 : start]):
            raise TamperedArtifactError(
                f"artifact signature mismatch: {what} was modified after it was signed, "
                "or signed with another key; refusing to load it"
            )
        try:
            (hlen,) = struct.unpack(">I", body[:4])
            header = orjson.loads(body[4 : 4 + hlen])
            state_end = 4 + hlen + int(header["state_bytes"])
            arrays, end = split_arrays(body, state_end, header["arrays"])
            state = decode_tree(body[4 + hlen : state_end], arrays)
            if end != len(body) or header["format"] != _FORMAT or not isinstance(state, dict):
                raise ValueError("unexpected layout")
            return cls(header["model"], state)
        except (KeyError, TypeError, ValueError) as exc:
            # correctly signed yet unreadable: written by another version of this format
            raise RegistryError(f"{what} is signed but unreadable: {exc}") from None
