"""Where attachment bytes live. Files are named by their SHA-256, so a file sent twice is kept once.

A backend needs ``save(stream, max_size) -> (sha256, size)``, ``open(sha256)`` and ``exists``; the
default writes under a local folder. Pass ``init_app(app, storage=...)`` for anything else.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Protocol

CHUNK = 64 * 1024


class FileTooLarge(ValueError):
    pass


class StorageBackend(Protocol):
    def save(self, stream: BinaryIO, max_size: int) -> tuple[str, int]: ...

    def open(self, sha256: str) -> BinaryIO: ...

    def exists(self, sha256: str) -> bool: ...


class LocalStorage:
    """Content-addressed files under *root*: ``root/ab/cd/abcd…``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def _path(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def save(self, stream: BinaryIO, max_size: int) -> tuple[str, int]:
        """Stream to a temporary file while hashing; stop as soon as *max_size* is passed."""
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, temp_name = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > max_size:
                        raise FileTooLarge(size)
                    digest.update(chunk)
                    out.write(chunk)
            sha256 = digest.hexdigest()
            target = self._path(sha256)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temp_name, target)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        return sha256, size

    def open(self, sha256: str) -> BinaryIO:
        return self._path(sha256).open("rb")

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).exists()
