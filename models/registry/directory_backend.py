"""The registry's storage in a local directory (the embedded mode's registry)."""

from __future__ import annotations

import fcntl
import os
import re
import uuid
from pathlib import Path

__all__ = ["DirectoryBackend"]

_WORD = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


class DirectoryBackend:
    """`RegistryBackend` as files under `root`: key ``fraud:v3:artifact`` is the file
    ``root/fraud/v3/artifact``.

    Values are written atomically (a unique temporary file, fsync, `os.replace`), counters are
    incremented under an exclusive `flock` so two processes never get the same number, and lists
    are JSON-lines-style files (``.jsonl``) opened in append mode, one item per line, never
    rewritten. A line cut short by a crash is ignored when the list is read.

    Examples
    --------
    >>> import tempfile
    >>> store = DirectoryBackend(tempfile.mkdtemp())
    >>> store.incr("fraud:counter"), store.incr("fraud:counter")
    (1, 2)
    >>> store.put("fraud:v1:meta", b"{}"); store.get("fraud:v1:meta")
    b'{}'
    >>> store.append("audit", b'{"action":"register"}'); store.read_list("audit")
    [b'{"action":"register"}']
    >>> sorted(p.name for p in store.root.iterdir())
    ['audit.jsonl', 'fraud']
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"DirectoryBackend({str(self.root)!r})"

    def _path(self, key: str, suffix: str = "") -> Path:
        words = key.split(":")
        for word in words:
            if not _WORD.fullmatch(word):
                raise ValueError(f"invalid registry key {key!r}")
        return self.root.joinpath(*words[:-1], words[-1] + suffix)

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def put(self, key: str, value: bytes) -> None:
        self._write(self._path(key), value)

    def incr(self, key: str) -> int:
        path = self._path(key, ".counter")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                current = int(path.read_bytes() or b"0")
            except FileNotFoundError:
                current = 0
            self._write(path, str(current + 1).encode())
            return current + 1
        finally:
            os.close(fd)  # releases the lock

    def append(self, key: str, item: bytes) -> None:
        if b"\n" in item:
            raise ValueError("list items must not contain newlines")
        path = self._path(key, ".jsonl")
        path.parent.mkdir(parents=True, exist_ok=True)
        # one write(2) on an O_APPEND descriptor: concurrent appenders never interleave a line
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, bytes(item) + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)

    def read_list(self, key: str) -> list[bytes]:
        try:
            data = self._path(key, ".jsonl").read_bytes()
        except FileNotFoundError:
            return []
        lines = data.split(b"\n")
        return lines[:-1]  # the last piece is empty, or a line a crash cut short

    @staticmethod
    def _write(path: Path, value: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "wb") as fh:
                fh.write(value)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
