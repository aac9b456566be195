"""Where attachment bytes live. Files are named by their SHA-256, so a file sent twice is kept once.

A backend needs ``save(stream, max_size) -> (sha256, size)``, ``open(sha256)`` and ``exists``.
Two are built in, chosen by ``HELPDESK_STORAGE_BACKEND``: a local folder (the default) and an
S3-compatible bucket (:class:`S3Storage`, for more than one host). Pass
``init_app(app, storage=...)`` for anything else. :func:`move_files` copies every stored file
from one backend to another (``flask helpdesk storage move``).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

CHUNK = 64 * 1024
SPOOL_IN_MEMORY = 1024 * 1024  # uploads up to this size are hashed in memory before sending


class FileTooLarge(ValueError):
    pass


class ChecksumMismatch(ValueError):
    """The bytes read do not hash to the name they are stored under."""


class StorageBackend(Protocol):
    def save(self, stream: BinaryIO, max_size: int) -> tuple[str, int]: ...

    def open(self, sha256: str) -> BinaryIO: ...

    def exists(self, sha256: str) -> bool: ...


def copy_hashed(stream: BinaryIO, out: Any, max_size: int | None = None) -> tuple[Any, int]:
    """Copy *stream* to *out* in chunks; (its SHA-256 object, its size). Past *max_size* it
    stops with :class:`FileTooLarge`, so a huge upload is never read whole."""
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK):
        size += len(chunk)
        if max_size is not None and size > max_size:
            raise FileTooLarge(size)
        digest.update(chunk)
        out.write(chunk)
    return digest, size


class LocalStorage:
    """Content-addressed files under *root*: ``root/ab/cd/abcd…``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def _path(self, sha256: str) -> Path:
        sha256 = _check_digest(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def save(self, stream: BinaryIO, max_size: int) -> tuple[str, int]:
        """Stream to a temporary file while hashing; stop as soon as *max_size* is passed."""
        if isinstance(stream, io.BytesIO):
            with stream.getbuffer() as whole:
                return self._save_bytes(whole[stream.tell() :], max_size)
        self.root.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                digest, size = copy_hashed(stream, out, max_size)
            sha256 = digest.hexdigest()
            target = self._path(sha256)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temp_name, target)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        return sha256, size

    def _save_bytes(self, data: memoryview, max_size: int) -> tuple[str, int]:
        """Bytes already in memory (a mail's attachments are): hashed first, so a file stored
        before (a logo in every signature, the same PDF sent again) is not written again.
        Writing and renaming it over itself cost about 1 ms of a mail with an 80 kB PDF."""
        size = len(data)
        if size > max_size:
            raise FileTooLarge(size)
        sha256 = hashlib.sha256(data).hexdigest()
        target = self._path(sha256)
        # A stored file is only ever renamed into place whole, but the rename can reach the
        # disk before the bytes do (a machine going down; nothing is fsynced): one of the
        # wrong size is written again, as every save did before this shortcut. (Files are
        # deleted only by ``storage move --delete-source``, which the deployment guide runs
        # after the app was switched to the other backend.)
        try:
            if target.stat().st_size == size:
                return sha256, size
        except FileNotFoundError:
            pass
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(temp_name, target)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        return sha256, size

    def open(self, sha256: str) -> BinaryIO:
        return self._path(sha256).open("rb")

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).exists()

    def put_verified(self, sha256: str, stream: BinaryIO) -> None:
        """Store bytes whose hash is known (moving files in); refused if they do not match."""
        saved, _size = self.save(stream, max_size=2**62)
        if saved != sha256:
            self.delete(saved)
            raise ChecksumMismatch(sha256)

    def delete(self, sha256: str) -> None:
        self._path(sha256).unlink(missing_ok=True)


def _check_digest(sha256: str) -> str:
    if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
        raise ValueError("not a SHA-256 hex digest")
    return sha256


class S3Storage:
    """Content-addressed objects in an S3-compatible bucket: ``<prefix>ab/cd/abcd…``.

    Every web process and worker on every host sees the same files, which a local folder
    cannot give without a shared file system. Needs the ``[s3]`` extra (boto3). Uploads are
    spooled to a temporary file while hashed (the object's name is the hash, known only at the
    end) and sent with their SHA-256 checksum, which the server checks on arrival. Downloads
    are streamed through the permission-checked download route (see :doc:`deployment`).
    """

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        client: Any = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        if client is None:
            import boto3
            from botocore.config import Config

            # Without keys boto3 finds its own (environment, instance role); short timeouts
            # and a few retries: a stalled storage server must not hold a web worker for long.
            client = boto3.client(
                "s3",
                endpoint_url=endpoint_url or None,
                region_name=region or None,
                aws_access_key_id=access_key_id or None,
                aws_secret_access_key=secret_access_key or None,
                config=Config(
                    connect_timeout=5,
                    read_timeout=30,
                    retries={"max_attempts": 3, "mode": "standard"},
                ),
            )
        self.client = client

    def key(self, sha256: str) -> str:
        sha256 = _check_digest(sha256)
        return f"{self.prefix}{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def save(self, stream: BinaryIO, max_size: int) -> tuple[str, int]:
        """Hash into a spooled temporary file, stopping past *max_size*; upload once."""
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
            digest, size = copy_hashed(stream, spool, max_size)
            sha256 = digest.hexdigest()
            if not self.exists(sha256):  # the same file sent twice is stored once
                spool.seek(0)
                self._put(sha256, spool, digest.digest())
        return sha256, size

    def _put(self, sha256: str, body: BinaryIO, raw_digest: bytes) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=self.key(sha256),
            Body=body,
            ChecksumSHA256=base64.b64encode(raw_digest).decode("ascii"),
            ContentType="application/octet-stream",
        )

    def put_verified(self, sha256: str, stream: BinaryIO) -> None:
        """Store bytes whose hash is known (moving files in); refused if they do not match."""
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
            digest, _size = copy_hashed(stream, spool)
            if digest.hexdigest() != sha256:
                raise ChecksumMismatch(sha256)
            spool.seek(0)
            self._put(sha256, spool, digest.digest())

    def open(self, sha256: str) -> BinaryIO:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.key(sha256))
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(sha256) from None
        return response["Body"]

    def exists(self, sha256: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(sha256))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def delete(self, sha256: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key(sha256))


STORAGE_KINDS = ("local", "s3")


def backend_from_config(kind: str, config: dict[str, Any], default_root: str) -> Any:
    """The built-in backend *kind* (``"local"`` or ``"s3"``) set up from ``HELPDESK_*``."""
    if kind == "s3":
        return S3Storage(
            config["HELPDESK_S3_BUCKET"],
            prefix=config["HELPDESK_S3_PREFIX"],
            endpoint_url=config["HELPDESK_S3_ENDPOINT_URL"],
            region=config["HELPDESK_S3_REGION"],
            access_key_id=config["HELPDESK_S3_ACCESS_KEY_ID"],
            secret_access_key=config["HELPDESK_S3_SECRET_ACCESS_KEY"],
        )
    return LocalStorage(config["HELPDESK_STORAGE_PATH"] or default_root)


class _Discard:
    def write(self, chunk: bytes) -> None:
        pass


def file_digest(stream: BinaryIO) -> str:
    """The SHA-256 of what *stream* gives (closed afterwards)."""
    with stream:
        return copy_hashed(stream, _Discard())[0].hexdigest()


@dataclass
class MoveReport:
    copied: int = 0
    already_there: int = 0
    missing: list[str] | None = None
    failed: list[str] | None = None
    deleted: int = 0

    def __post_init__(self) -> None:
        self.missing = self.missing or []
        self.failed = self.failed or []


def move_files(
    source: Any,
    target: Any,
    digests: Iterable[str],
    *,
    delete_source: bool = False,
    progress: Callable[[int, str, str], None] | None = None,
) -> MoveReport:
    """Copy each file named in *digests* from *source* to *target* and check it there.

    Safe to run again and to stop at any point: a file already in *target* is not sent again,
    and a copy counts only once *target* gives back bytes with the right SHA-256 (a copy that
    does not is removed). *source* keeps every file unless *delete_source*, and even then loses
    a file only after its copy was verified. *progress(n, sha256, outcome)* follows along.
    """
    report = MoveReport()
    for number, sha256 in enumerate(digests, start=1):
        outcome = "copied"
        try:
            if target.exists(sha256) and file_digest(target.open(sha256)) == sha256:
                report.already_there += 1
                outcome = "already there"
            elif not source.exists(sha256):
                report.missing.append(sha256)
                outcome = "missing"
            else:
                with source.open(sha256) as stream:
                    target.put_verified(sha256, stream)
                if file_digest(target.open(sha256)) != sha256:
                    target.delete(sha256)
                    raise ChecksumMismatch(sha256)
                report.copied += 1
            if delete_source and outcome != "missing":
                source.delete(sha256)
                report.deleted += 1
        except Exception as error:  # any backend's own errors (botocore's are no OSError): go on
            report.failed.append(sha256)
            outcome = f"failed: {error}"
        if progress is not None:
            progress(number, sha256, outcome)
    return report
