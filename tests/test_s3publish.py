"""Publishing OUT to a real SeaweedFS S3 gateway: headers per object, skip identical, order, resume."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from assetpipe.config import Config
from assetpipe.errors import ManifestError
from assetpipe.manifest import Manifest
from assetpipe.pipeline import build
from assetpipe.remote import sha256_b64
from assetpipe.s3publish import IMMUTABLE, NO_CACHE, SHA256_METADATA, plain_md5, publish
from tests.conftest import Tree, write_tree
from tests.seaweed import WRITER_KEY, WRITER_SECRET, Seaweed, s3_env, seaweed  # noqa: F401 (fixtures)

SITE: Tree = {
    "css/app.css": "@import 'base.css';\nbody { background: url(../img/logo.svg) }\n" * 30,
    "css/base.css": "html { margin: 0 }\n" * 40,
    "js/main.js": "import { x } from './dep.js';\nconsole.log(x);\n" * 30,
    "js/dep.js": "export const x = 1;\n" * 40,
    "img/logo.svg": "<svg xmlns='http://www.w3.org/2000/svg'>" + "<g/>" * 200 + "</svg>",
    "img/photo.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
    "robots.txt": "User-agent: *\nDisallow:\n" * 20,
    "sw.js": "self.addEventListener('fetch', () => {});\n" * 20,
}


@pytest.fixture
def dist(tmp_path: Path, make_source: Callable[[Tree], Path]) -> Path:
    src = make_source(SITE)
    out = tmp_path / "dist"
    build(Config(source=src, output=out, cache_dir=tmp_path / "cache"))
    return out


@pytest.fixture
def bucket(s3_env: Seaweed) -> str:
    return s3_env.new_bucket()


def objects(server: Seaweed, bucket: str, prefix: str = "") -> dict[str, int]:
    pages = server.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {o["Key"]: o["Size"] for page in pages for o in page.get("Contents", [])}


def test_every_file_and_sibling_is_served_with_its_headers(dist: Path, bucket: str, s3_env: Seaweed) -> None:
    report = publish(dist, f"s3://{bucket}/site")
    manifest = Manifest.load(dist / "manifest.json")
    checked = 0
    for entry in manifest.assets.values():
        cache = IMMUTABLE if entry.immutable else NO_CACHE
        status, headers, body = s3_env.get(bucket, f"site/{entry.path}")
        assert (status, body) == (200, (dist / entry.path).read_bytes())
        assert (headers["Content-Type"], headers["Cache-Control"]) == (entry.content_type, cache)
        assert "Content-Encoding" not in headers
        for name, enc in entry.encodings.items():
            status, headers, body = s3_env.get(bucket, f"site/{enc.path}")
            assert (status, body) == (200, (dist / enc.path).read_bytes())
            assert (headers["Content-Type"], headers["Content-Encoding"]) == (entry.content_type, name)
            assert headers["Cache-Control"] == cache
            checked += 1
    assert checked >= 10
    status, headers, body = s3_env.get(bucket, "site/manifest.json")
    assert (status, body, headers["Cache-Control"]) == (200, (dist / "manifest.json").read_bytes(), NO_CACHE)
    assert manifest.assets["robots.txt"].immutable is False
    assert report.build_id and report.skipped == 0 and report.deleted == []


def test_publishing_again_uploads_nothing(dist: Path, bucket: str) -> None:
    first = publish(dist, f"s3://{bucket}/site")
    sent: list[str] = []
    second = publish(dist, f"s3://{bucket}/site", on_put=sent.append)
    assert f".assetpipe/builds/{first.build_id}.json" in first.uploaded
    assert (sent, second.uploaded, second.bytes_sent) == ([], [], 0)
    assert second.skipped == len(first.uploaded) - 1  # all but the record, which is not compared
    assert second.lines() == [
        f"uploaded 0 objects (0 bytes), {second.skipped} already there, deleted 0; "
        f"s3://{bucket}/site/ serves build {first.build_id} ({second.seconds:.2f}s)"
    ]


def test_the_manifest_goes_last_after_the_unhashed_files_after_the_hashed_ones(
    dist: Path, bucket: str
) -> None:
    order: list[str] = []
    publish(dist, f"s3://{bucket}/site", on_put=order.append, jobs=4)
    manifest = Manifest.load(dist / "manifest.json")
    unhashed = {e.path for e in manifest.assets.values() if not e.immutable}
    unhashed |= {
        enc.path for e in manifest.assets.values() if not e.immutable for enc in e.encodings.values()
    }
    assert order[-1] == "manifest.json"
    first_unhashed = min(order.index(p) for p in unhashed)
    assert all(order.index(p) < first_unhashed for p in order if p not in unhashed and p != "manifest.json")
    assert order[first_unhashed - 1].startswith(".assetpipe/builds/")


def test_a_dry_run_sends_nothing(dist: Path, bucket: str, s3_env: Seaweed) -> None:
    report = publish(dist, f"s3://{bucket}/site", dry_run=True)
    assert "manifest.json" in report.uploaded and objects(s3_env, bucket) == {}
    assert report.lines()[-1].startswith("would upload ")


def test_a_build_that_does_not_verify_is_not_published(dist: Path, bucket: str, s3_env: Seaweed) -> None:
    entry = Manifest.load(dist / "manifest.json").assets["css/base.css"]
    (dist / entry.path).write_text("tampered", encoding="utf-8")
    with pytest.raises(ManifestError, match="run 'assetpipe verify'"):
        publish(dist, f"s3://{bucket}/site")
    assert objects(s3_env, bucket) == {}


def test_bad_credentials_fail_publish_with_one_clear_line(dist: Path, bucket: str, s3_env: Seaweed) -> None:
    env = {**os.environ, **s3_env.env(secret="wrong")}
    result = subprocess.run(
        [sys.executable, "-m", "assetpipe", "publish", "-o", str(dist), "--to", f"s3://{bucket}/site"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(
        f"error: s3://{bucket}/site/: cannot list the bucket: access denied (403 "
    )
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_an_unhashed_file_that_changed_is_replaced_with_its_siblings(
    tmp_path: Path, dist: Path, bucket: str, s3_env: Seaweed
) -> None:
    publish(dist, f"s3://{bucket}/site")
    write_tree(tmp_path / "src", {"robots.txt": "User-agent: *\nDisallow: /private\n" * 20})
    build(Config(source=tmp_path / "src", output=dist, cache_dir=tmp_path / "cache"))
    report = publish(dist, f"s3://{bucket}/site")
    assert {"robots.txt", "robots.txt.br", "robots.txt.gz", "manifest.json"} <= set(report.uploaded)
    for name in ("robots.txt", "robots.txt.br", "robots.txt.gz"):
        assert s3_env.get(bucket, f"site/{name}")[2] == (dist / name).read_bytes()


def many_files(n: int) -> Tree:
    return {f"lib/m{i:04d}.js": f"export const v{i} = '{'y' * (i % 97)}';\n" * 12 for i in range(n)}


def test_a_publish_killed_midway_leaves_the_old_manifest_live_and_a_rerun_completes(
    tmp_path: Path, bucket: str, s3_env: Seaweed
) -> None:
    src, out, url = tmp_path / "src", tmp_path / "dist", f"s3://{bucket}/site"
    write_tree(src, many_files(150))
    build(Config(source=src, output=out, cache_dir=tmp_path / "cache"))
    publish(out, url)
    old_manifest = (out / "manifest.json").read_bytes()
    write_tree(src, {f"lib/m{i:04d}.js": f"export const w{i} = 2;\n" * 30 for i in range(150)})
    build(Config(source=src, output=out, cache_dir=tmp_path / "cache"))
    before = set(objects(s3_env, bucket))
    env = {**os.environ, **s3_env.env()}
    process = subprocess.Popen(
        [sys.executable, "-m", "assetpipe", "publish", "-o", str(out), "--to", url, "--jobs", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while len(set(objects(s3_env, bucket)) - before) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    sent = len(set(objects(s3_env, bucket)) - before)
    assert 20 <= sent < 3 * 150  # killed midway
    assert s3_env.get(bucket, "site/manifest.json")[2] == old_manifest  # the previous build is still live
    rerun = publish(out, url)
    assert rerun.skipped >= sent and rerun.uploaded[-1] == "manifest.json"
    assert s3_env.get(bucket, "site/manifest.json")[2] == (out / "manifest.json").read_bytes()


def test_keep_prunes_the_bucket_with_cleans_rule(tmp_path: Path, bucket: str, s3_env: Seaweed) -> None:
    src, out, url = tmp_path / "src", tmp_path / "dist", f"s3://{bucket}/site"
    published = []
    for version, when in ((1, 1000.0), (2, 2000.0), (3, 3000.0)):
        write_tree(
            src, {"css/app.css": f".v{version} {{ color: red }}\n" * 50, "robots.txt": f"# {version}\n" * 30}
        )
        build(Config(source=src, output=out, cache_dir=tmp_path / "cache"))
        published.append(Manifest.load(out / "manifest.json").assets["css/app.css"].path)
        report = publish(out, url, keep=2, age=10, now=when)
    names = set(objects(s3_env, bucket, "site/"))
    assert f"site/{published[0]}" not in names and f"site/{published[0]}.br" not in names
    assert {f"site/{published[1]}", f"site/{published[2]}", "site/robots.txt", "site/manifest.json"} <= names
    assert report.deleted == sorted(report.deleted[:-1]) + report.deleted[-1:]
    assert len([n for n in names if n.startswith("site/.assetpipe/builds/")]) == 2


def test_siblings_an_unhashed_file_no_longer_has_are_deleted_from_the_bucket(
    tmp_path: Path, dist: Path, bucket: str, s3_env: Seaweed
) -> None:
    publish(dist, f"s3://{bucket}/site")
    write_tree(tmp_path / "src", {"robots.txt": "User-agent: *\n"})  # too small for siblings now
    build(Config(source=tmp_path / "src", output=dist, cache_dir=tmp_path / "cache"))
    report = publish(dist, f"s3://{bucket}/site")
    assert sorted(report.deleted) == ["robots.txt.br", "robots.txt.gz"]
    assert s3_env.get(bucket, "site/robots.txt.br")[0] == 404
    assert s3_env.get(bucket, "site/robots.txt")[2] == b"User-agent: *\n"


def test_age_without_keep_is_a_usage_error(dist: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "assetpipe", "publish", "-o", str(dist), "--to", "s3://bucket-x/p", "--age", "5"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 2 and "--age applies only with --keep" in result.stderr


def hashed_object(dist: Path, logical: str = "css/base.css") -> tuple[str, bytes]:
    entry = Manifest.load(dist / "manifest.json").assets[logical]
    return entry.path, (dist / entry.path).read_bytes()


def test_every_object_carries_a_sha256_the_store_keeps_and_the_same_in_its_metadata(
    dist: Path, bucket: str, s3_env: Seaweed
) -> None:
    publish(dist, f"s3://{bucket}/site")
    path, body = hashed_object(dist)
    head = s3_env.client().head_object(Bucket=bucket, Key=f"site/{path}", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == sha256_b64(body)
    assert head["Metadata"] == {SHA256_METADATA: sha256_b64(body)}
    status, headers, _ = s3_env.get(bucket, f"site/{path}")  # what a plain GET (a CDN) sees
    lowered = {name.lower(): value for name, value in headers.items()}
    assert (status, lowered["x-amz-meta-assetpipe-sha256"]) == (200, sha256_b64(body))


def multipart_upload(client: Any, bucket: str, key: str, body: bytes) -> None:
    """Put ``body`` as a one-part multipart upload: its ETag ("...-1") is no MD5 of the bytes."""
    upload = client.create_multipart_upload(Bucket=bucket, Key=key)
    part = client.upload_part(Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=body)
    client.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )  # fmt: skip


def test_an_object_whose_etag_is_the_files_md5_is_skipped_without_asking_for_its_checksum(
    dist: Path, bucket: str, s3_env: Seaweed
) -> None:
    first = publish(dist, f"s3://{bucket}/site")
    path, body = hashed_object(dist)
    # Same bytes, written by another client: no SHA-256 kept by the store (the test client sends a CRC32)
    # and none in the metadata, but a single-part upload's ETag is the store's own MD5 of the bytes.
    s3_env.client().put_object(Bucket=bucket, Key=f"site/{path}", Body=body)
    head = s3_env.client().head_object(Bucket=bucket, Key=f"site/{path}", ChecksumMode="ENABLED")
    assert "ChecksumSHA256" not in head and head["Metadata"] == {}
    assert head["ETag"].strip('"') == hashlib.md5(body).hexdigest()
    again = publish(dist, f"s3://{bucket}/site")
    assert again.uploaded == [] and again.skipped == len(first.uploaded) - 1


def test_an_object_whose_etag_is_no_plain_md5_is_uploaded_again_unless_a_sha256_establishes_it(
    dist: Path, bucket: str, s3_env: Seaweed
) -> None:
    # A multipart upload's ETag ("...-1") states no MD5 of the bytes: without a SHA-256 the store keeps or
    # the metadata states, nothing establishes them, so the object is sent again (with its SHA-256).
    first = publish(dist, f"s3://{bucket}/site")
    path, body = hashed_object(dist)
    client = s3_env.client()
    key = f"site/{path}"
    multipart_upload(client, bucket, key, body)
    head = client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert plain_md5(head["ETag"]) is None and "ChecksumSHA256" not in head
    again = publish(dist, f"s3://{bucket}/site")
    assert again.uploaded == [path] and again.skipped == len(first.uploaded) - 2
    head = client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == sha256_b64(body)


def test_without_the_stores_checksum_the_sha256_in_the_metadata_decides(
    dist: Path, bucket: str, s3_env: Seaweed
) -> None:
    publish(dist, f"s3://{bucket}/site")
    path, body = hashed_object(dist)
    other_path, other_body = hashed_object(dist, "js/dep.js")
    client = s3_env.client()
    client.put_object(Bucket=bucket, Key=f"site/{path}", Body=body, Metadata={SHA256_METADATA: sha256_b64(body)})
    # Bytes of the right size whose metadata names other bytes: never skipped on a guess.
    wrong = bytes(len(other_body))
    client.put_object(
        Bucket=bucket, Key=f"site/{other_path}", Body=wrong, Metadata={SHA256_METADATA: sha256_b64(other_body)}
    )
    for key in (path, other_path):  # the store keeps its own CRC32 of the bytes, and no SHA-256
        head = client.head_object(Bucket=bucket, Key=f"site/{key}", ChecksumMode="ENABLED")
        assert "ChecksumSHA256" not in head and "ChecksumCRC32" in head
    again = publish(dist, f"s3://{bucket}/site")
    # The metadata's SHA-256 is the file's and the store's CRC32 agrees: skipped. The other's metadata
    # claims the file's SHA-256, but the store's CRC32 is of other bytes: uploaded again.
    assert again.uploaded == [other_path]
    assert s3_env.get(bucket, f"site/{other_path}")[2] == other_body


def test_an_object_of_the_right_size_with_other_bytes_is_uploaded_again(
    dist: Path, bucket: str, s3_env: Seaweed
) -> None:
    publish(dist, f"s3://{bucket}/site")
    path, body = hashed_object(dist)
    wrong = bytes(len(body))
    s3_env.client().put_object(Bucket=bucket, Key=f"site/{path}", Body=wrong, ChecksumSHA256=sha256_b64(wrong))
    again = publish(dist, f"s3://{bucket}/site")
    assert again.uploaded == [path]
    assert s3_env.get(bucket, f"site/{path}")[2] == body


def test_a_multipart_objects_composite_checksum_is_not_taken_for_the_bytes_sha256(
    tmp_path: Path, bucket: str, s3_env: Seaweed
) -> None:
    big = bytes(range(256)) * (6 * 4096)  # 6 MB: a multipart upload's first part must be at least 5 MB
    write_tree(tmp_path / "src", {"img/big.png": big})
    out = tmp_path / "dist"
    build(Config(source=tmp_path / "src", output=out, cache_dir=tmp_path / "cache"))
    path, body = hashed_object(out, "img/big.png")
    client, key = s3_env.client(), f"site/{path}"

    def upload_in_two_parts(metadata: dict[str, str]) -> None:
        started = client.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256", Metadata=metadata)
        parts = []
        for number, part in enumerate((body[: 5 * 1024 * 1024], body[5 * 1024 * 1024 :]), 1):
            sent = client.upload_part(
                Bucket=bucket, Key=key, UploadId=started["UploadId"], PartNumber=number, Body=part,
                ChecksumAlgorithm="SHA256",
            )  # fmt: skip
            parts.append({"PartNumber": number, "ETag": sent["ETag"], "ChecksumSHA256": sent["ChecksumSHA256"]})
        client.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=started["UploadId"], MultipartUpload={"Parts": parts}
        )

    publish(out, f"s3://{bucket}/site")
    upload_in_two_parts({})
    head = client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert head["ChecksumType"] == "COMPOSITE" and head["ChecksumSHA256"].endswith("-2")
    assert publish(out, f"s3://{bucket}/site").uploaded == [path]
    upload_in_two_parts({SHA256_METADATA: sha256_b64(body)})
    assert publish(out, f"s3://{bucket}/site").uploaded == []


def test_a_credential_that_cannot_read_checksums_fails_publish_with_one_line_saying_so(
    dist: Path, bucket: str, s3_env: Seaweed
) -> None:
    publish(dist, f"s3://{bucket}/site")  # there is something to compare with
    path, body = hashed_object(dist)
    multipart_upload(s3_env.client(), bucket, f"site/{path}", body)  # its ETag states no MD5: publish asks
    env = {**os.environ, **s3_env.env(access_key=WRITER_KEY, secret=WRITER_SECRET)}
    result = subprocess.run(
        [sys.executable, "-m", "assetpipe", "publish", "-o", str(dist), "--to", f"s3://{bucket}/site"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith(f"error: s3://{bucket}/site/: cannot read the checksum of ")
    assert result.stderr.rstrip().endswith("(publish reads checksums (HeadObject): the credential needs s3:GetObject)")
    assert result.stderr.count("\n") == 1


def test_unusable_aws_settings_fail_publish_with_one_line(dist: Path, s3_env: Seaweed) -> None:
    env = {**os.environ, **s3_env.env(), "AWS_PROFILE": "no-such-profile"}
    result = subprocess.run(
        [sys.executable, "-m", "assetpipe", "publish", "-o", str(dist), "--to", "s3://bucket-x/site"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "error: s3://bucket-x/site/: cannot set up the AWS client: The config profile (no-such-profile) could "
        "not be found\n"
    )
