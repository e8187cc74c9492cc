"""C loops compiled on first use with the system compiler and loaded with ctypes (ADWIN's
update loop in `monitor/drift/`, the feature aggregator's engine in `featurestore/_native/`).

It sits in the bottom package so that both can share it: a library is built once per
source version into the user's cache directory (``$RIFFLE_CACHE``, else
``$XDG_CACHE_HOME/riffle`` or ``~/.cache/riffle``, falling back to a per-user temporary
directory); without a C compiler, or with ``RIFFLE_NO_NATIVE=1``, callers get None and use
their Python path. No fast-math and no contraction of multiply-adds: the C code repeats the
Python arithmetic operation for operation, so the floats are the same.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

__all__ = ["cache_dir", "load_library"]

FLAGS = ("-O2", "-fPIC", "-shared", "-std=gnu11", "-ffp-contract=off", "-fno-fast-math")


def cache_dir() -> Path:
    if os.environ.get("RIFFLE_CACHE"):
        return Path(os.environ["RIFFLE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "riffle"


def load_library(name: str, sources: Sequence[Path]) -> ctypes.CDLL | None:
    """The library built from ``sources`` (C files; headers beside them count towards the
    version), or None when native code is off or cannot be built."""
    if os.environ.get("RIFFLE_NO_NATIVE"):
        return None
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    try:
        headers = sorted({h for s in sources for h in s.parent.glob("*.h")})
        text = b"".join(p.read_bytes() for p in [*sources, *headers])
    except OSError:  # an install without the C sources
        return None
    digest = hashlib.sha256(text + " ".join(FLAGS).encode()).hexdigest()[:16]
    for directory in (cache_dir(), Path(tempfile.gettempdir()) / f"riffle-{os.getuid()}"):
        path = directory / f"{name}-{digest}.so"
        try:
            if not path.exists():
                directory.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(suffix=".so", dir=directory)
                os.close(fd)
                cmd = [compiler, *FLAGS, "-o", tmp, *map(str, sources), "-lm"]
                try:
                    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
                    os.replace(tmp, path)  # atomic: concurrent builders agree
                finally:
                    Path(tmp).unlink(missing_ok=True)
            return ctypes.CDLL(str(path))
        except (OSError, subprocess.SubprocessError):
            continue
    return None
