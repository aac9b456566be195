"""Attachments in an S3-compatible bucket (a real moto server): what customers and agents see is
the same as with the local folder, and ``flask helpdesk storage move`` carries existing files over
without losing one."""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select

from flask_helpdesk.config import ConfigError
from flask_helpdesk.models import Attachment
from flask_helpdesk.services.base import session
from flask_helpdesk.storage import ChecksumMismatch, S3Storage
from tests.conftest import client_for, make_test_app
from tests.deploy.conftest import S3_KEYS, bucket_keys, s3_settings
from tests.views.conftest import code_from, upload
from tests.views.test_portal_security import post_new, storage_files


@pytest.fixture
def s3_app(app, database_url, tmp_path, s3_server, s3_bucket) -> Iterator[Flask]:
    """The test app with its files in the bucket. Built on ``app`` (which cleans the tables
    afterwards), whose context it covers with its own: the CLI then runs on this one."""
    s3_app = make_test_app(database_url, tmp_path, **s3_settings(s3_server, s3_bucket))
    with s3_app.app_context():
        assert s3_app.extensions["helpdesk"].schema_ready()
        yield s3_app


def bucket_of(app: Flask) -> tuple[str, str]:
    config = app.extensions["helpdesk"].config
    return config["HELPDESK_S3_ENDPOINT_URL"], config["HELPDESK_S3_BUCKET"]


def download_links(client, code: str) -> list[str]:
    page = client.get(f"/support/tickets/{code}").get_data(as_text=True)
    return re.findall(r'href="(/support/tickets/[^"]+/files/[^"]+)"', page)


def test_upload_lands_in_the_bucket_and_downloads_through_the_checked_route(
    s3_app, departments, customer, other_customer
):
    client = client_for(s3_app, customer)
    content = b"%PDF-1.4 invoice " + os.urandom(2000)
    page = b"<html><script>alert(1)</script></html>"
    response = post_new(
        client,
        departments,
        attachments=[
            upload("invoice.pdf", content),
            upload("copy.pdf", content),
            upload("page.html.txt", page),
        ],
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    code = code_from(response.headers["Location"])
    digest = hashlib.sha256(content).hexdigest()
    endpoint, bucket = bucket_of(s3_app)
    # Twice the same bytes: one object, named by content under the configured prefix.
    assert bucket_keys(endpoint, bucket) == sorted(
        [
            f"attachments/{digest[:2]}/{digest[2:4]}/{digest}",
            "attachments/{0[0]}{0[1]}/{0[2]}{0[3]}/{0}".format(hashlib.sha256(page).hexdigest()),
        ]
    )
    assert storage_files(s3_app) == []  # nothing on the local disk

    links = download_links(client, code)
    assert len(links) == 3
    download = client.get(links[0])
    assert download.status_code == 200
    assert download.data == content
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Length"] == str(len(content))
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Cache-Control"] == "private, no-store"
    # Another customer does not learn the file exists, wherever it is stored.
    assert client_for(s3_app, other_customer).get(links[0]).status_code == 404


def test_too_large_upload_leaves_the_bucket_and_the_tables_untouched(
    s3_app, departments, customer, monkeypatch
):
    monkeypatch.setitem(s3_app.extensions["helpdesk"].config, "HELPDESK_ATTACHMENT_MAX_SIZE", 1000)
    client = client_for(s3_app, customer)
    response = post_new(client, departments, attachments=[upload("big.pdf", b"x" * 1001)])
    assert response.status_code == 422
    assert bucket_keys(*bucket_of(s3_app)) == []
    assert session().scalars(select(Attachment)).all() == []


def test_bytes_that_do_not_match_their_name_are_refused(s3_server, s3_bucket):
    storage = S3Storage(
        s3_bucket,
        endpoint_url=s3_server,
        region="us-east-1",
        access_key_id=S3_KEYS["aws_access_key_id"],
        secret_access_key=S3_KEYS["aws_secret_access_key"],
    )
    claimed = hashlib.sha256(b"the real file").hexdigest()
    with pytest.raises(ChecksumMismatch):
        storage.put_verified(claimed, io.BytesIO(b"something else"))
    assert not storage.exists(claimed)
    with pytest.raises(FileNotFoundError):
        storage.open(claimed)
    with pytest.raises(ValueError, match="SHA-256"):
        storage.open("../../etc/passwd")


def test_s3_without_a_bucket_is_refused_at_start(database_url, tmp_path):
    with pytest.raises(ConfigError, match="HELPDESK_S3_BUCKET"):
        make_test_app(database_url, tmp_path, HELPDESK_STORAGE_BACKEND="s3")
    with pytest.raises(ConfigError, match="HELPDESK_STORAGE_BACKEND"):
        make_test_app(database_url, tmp_path, HELPDESK_STORAGE_BACKEND="ftp")


# -- flask helpdesk storage move ----------------------------------------------------------------
@pytest.fixture
def local_app(app, database_url, tmp_path, s3_server, s3_bucket) -> Iterator[Flask]:
    """Files on the local disk, the bucket configured but not used yet: before a move."""
    local_app = make_test_app(database_url, tmp_path, **s3_settings(s3_server, s3_bucket, "local"))
    with local_app.app_context():
        yield local_app


def tickets_with_files(app, departments, customer, count: int) -> tuple[list[str], list[bytes]]:
    client = client_for(app, customer)
    codes, contents = [], []
    for number in range(count):
        content = f"file {number} ".encode() + os.urandom(100)
        response = post_new(client, departments, attachments=[upload(f"f{number}.txt", content)])
        assert response.status_code == 302
        codes.append(code_from(response.headers["Location"]))
        contents.append(content)
    return codes, contents


def move(app, *args: str):
    return app.test_cli_runner().invoke(args=["helpdesk", "storage", "move", *args])


def test_move_to_s3_copies_verifies_and_keeps_the_old_files(
    local_app, departments, customer, tmp_path, database_url
):
    codes, contents = tickets_with_files(local_app, departments, customer, 3)
    local_before = sorted(storage_files(local_app))
    assert len(local_before) == 3

    result = move(local_app, "--to", "s3")
    assert result.exit_code == 0, result.output
    assert "3 file(s) to check, local -> s3" in result.output
    assert "copied 3, already there 0" in result.output
    assert len(bucket_keys(*bucket_of(local_app))) == 3
    assert sorted(storage_files(local_app)) == local_before  # kept

    # Idempotent: a second run sends nothing, it checks what is there.
    again = move(local_app, "--to", "s3")
    assert again.exit_code == 0, again.output
    assert "copied 0, already there 3" in again.output

    # Switched over, the same pages serve the same bytes from the bucket.
    s3_app = make_test_app(
        database_url, tmp_path / "elsewhere", **s3_settings(*bucket_of(local_app))
    )
    with s3_app.app_context():
        client = client_for(s3_app, customer)
        for code, content in zip(codes, contents, strict=True):
            (link,) = download_links(client, code)
            assert client.get(link).data == content


def test_move_is_resumable_and_refuses_a_damaged_file(local_app, departments, customer):
    _codes, contents = tickets_with_files(local_app, departments, customer, 3)
    endpoint, bucket = bucket_of(local_app)
    # A first run that got one file across before it was stopped.
    first = hashlib.sha256(contents[0]).hexdigest()
    local = local_app.extensions["helpdesk"].storage
    with local.open(first) as stream:
        S3Storage(
            bucket,
            endpoint_url=endpoint,
            region="us-east-1",
            access_key_id=S3_KEYS["aws_access_key_id"],
            secret_access_key=S3_KEYS["aws_secret_access_key"],
            prefix="attachments/",
        ).put_verified(first, stream)
    # And a file damaged on the disk since it was uploaded.
    damaged = hashlib.sha256(contents[2]).hexdigest()
    (path,) = [p for p in storage_files(local_app) if p.endswith(damaged)]
    with open(path, "wb") as out:
        out.write(b"bit rot")

    result = move(local_app, "--to", "s3", "--delete-source")
    assert result.exit_code == 1
    assert "copied 1, already there 1" in result.output
    assert "failed 1" in result.output
    assert f"{damaged[:12]}… failed" in result.output
    keys = bucket_keys(endpoint, bucket)
    assert len(keys) == 2 and not any(key.endswith(damaged) for key in keys)
    # Only the damaged file is still on the disk: the verified ones were removed as asked.
    assert [os.path.basename(p) for p in storage_files(local_app)] == [damaged]


def test_move_without_a_bucket_says_so(app):
    result = move(app, "--to", "s3")
    assert result.exit_code == 1
    assert "HELPDESK_S3_BUCKET is not set" in result.output
