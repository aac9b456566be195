"""A real S3-compatible server for the storage tests: moto in server mode, in its own process on
a free loopback port (the ``test`` extra installs it, so these tests never skip)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.jobs.conftest import smtp  # noqa: F401  (the real SMTP server, for the two-host walk)

S3_KEYS = {"aws_access_key_id": "helpdesk-test", "aws_secret_access_key": "helpdesk-test-secret"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within {seconds} s")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The endpoint URL of a moto S3 server started for this test session."""
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"},
    )
    try:
        wait_for_port(port, process, "moto S3 server")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def s3_client(endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **S3_KEYS)


@pytest.fixture
def s3_bucket(s3_server: str) -> str:
    """A new, empty bucket on the server for one test."""
    name = f"helpdesk-{uuid.uuid4().hex[:16]}"
    s3_client(s3_server).create_bucket(Bucket=name)
    return name


def s3_settings(endpoint: str, bucket: str, backend: str = "s3") -> dict[str, str]:
    return {
        "HELPDESK_STORAGE_BACKEND": backend,
        "HELPDESK_S3_BUCKET": bucket,
        "HELPDESK_S3_ENDPOINT_URL": endpoint,
        "HELPDESK_S3_REGION": "us-east-1",
        "HELPDESK_S3_ACCESS_KEY_ID": S3_KEYS["aws_access_key_id"],
        "HELPDESK_S3_SECRET_ACCESS_KEY": S3_KEYS["aws_secret_access_key"],
    }


def bucket_keys(endpoint: str, bucket: str) -> list[str]:
    listing = s3_client(endpoint).list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listing.get("Contents", []))
