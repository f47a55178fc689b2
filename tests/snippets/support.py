"""Helpers for the snippet tests: a built-looking OUT on disk, real servers on loopback, a raw HTTP client.

The servers are Debian's own binaries started with a minimal config that includes the generated snippet,
checked first with the server's own validator. Outside CI a missing binary skips; with CI=true it fails.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import http.client
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import brotli
import pytest

from assetpipe.codecs import zstd_module
from assetpipe.manifest import Encoding, Manifest, ManifestEntry

COMPRESSORS: Mapping[str, tuple[str, Callable[[bytes], bytes]]] = {
    "br": (".br", brotli.compress),
    "gzip": (".gz", lambda b: gzip.compress(b, mtime=0)),
    "zstd": (".zst", lambda b: zstd_module().compress(b)),
}
DECODERS: Mapping[str, Callable[[bytes], bytes]] = {
    "br": brotli.decompress,
    "gzip": gzip.decompress,
    "zstd": lambda b: zstd_module().decompress(b),
    "": lambda b: b,
}


@dataclass(frozen=True, slots=True)
class SourceFile:
    logical: str
    data: bytes
    content_type: str
    hashed: bool = True
    encodings: tuple[str, ...] = ("br", "gzip")


TEXT = b"body { color: rebeccapurple; }\n" * 40
#: The site every server test serves: hashed and unhashed files, with both, one or no siblings, a name
#: that looks hashed but is not, and a type (.mjs) that nginx's stock mime.types does not know.
SOURCES = (
    SourceFile("css/app.css", TEXT, "text/css; charset=utf-8"),
    SourceFile(
        "js/app.js", b"console.log('assetpipe');\n" * 50, "text/javascript; charset=utf-8", True, ("br",)
    ),
    SourceFile("js/mod.mjs", b"export const x = 1;\n" * 60, "text/javascript; charset=utf-8"),
    SourceFile("img/logo.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "image/png", True, ()),
    SourceFile("robots.txt", b"User-agent: *\nDisallow:\n" * 30, "text/plain; charset=utf-8", False),
    SourceFile("css/x.0123456789ab.css", TEXT + b"/* unhashed */\n", "text/css; charset=utf-8", False),
    SourceFile("favicon.ico", b"\x00\x00\x01\x00" + b"\x11" * 300, "image/vnd.microsoft.icon", False, ()),
    SourceFile(
        ".well-known/security.txt", b"Contact: mailto:a@example.com\n", "text/plain; charset=utf-8", False, ()
    ),
)
#: A previous build's file still on disk (rolling deploys keep them): served, but not listed as immutable.
OLD_FILE = "css/app.00000000dead.css"
TEMP_FILE = ".assetpipe-tmp-abc123"


def make_entry(out: Path, source: SourceFile) -> ManifestEntry:
    """Write one file (and its siblings) into ``out`` the way a build would, and return its entry."""
    digest = hashlib.sha384(source.data).digest()
    short = digest.hex()[:12]
    stem, _, ext = source.logical.rpartition(".")
    path = f"{stem}.{short}.{ext}" if source.hashed else source.logical
    (out / path).parent.mkdir(parents=True, exist_ok=True)
    (out / path).write_bytes(source.data)
    encodings: dict[str, Encoding] = {}
    for name in source.encodings:
        suffix, compress = COMPRESSORS[name]
        packed = compress(source.data)
        (out / (path + suffix)).write_bytes(packed)
        encodings[name] = Encoding(path=path + suffix, size=len(packed))
    return ManifestEntry(
        path=path,
        hash=short,
        integrity="sha384-" + base64.b64encode(digest).decode("ascii"),
        size=len(source.data),
        content_type=source.content_type,
        immutable=source.hashed,
        encodings=encodings,
    )


def make_out(out: Path, sources: tuple[SourceFile, ...] = SOURCES, base_url: str = "/static/") -> Manifest:
    """A complete OUT: files, siblings, an old build's file, a temp file and manifest.json."""
    out.mkdir(parents=True, exist_ok=True)
    assets = {source.logical: make_entry(out, source) for source in sources}
    (out / OLD_FILE).parent.mkdir(parents=True, exist_ok=True)
    (out / OLD_FILE).write_bytes(TEXT)
    (out / TEMP_FILE).write_bytes(b"half-written")
    manifest = Manifest(base_url=base_url, assets=assets)
    manifest.write(out)
    return manifest


def public_tempdir(prefix: str) -> Path:
    """A temp dir every user can traverse: apache2 drops root for www-data, which pytest's 0700 tmp_path stops."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


# -- HTTP ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.all(name)
        assert len(values) <= 1, f"{name} sent {len(values)} times: {values}"
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def decoded(self) -> bytes:
        return DECODERS[self.header("Content-Encoding") or ""](self.body)


def fetch(
    port: int,
    path: str,
    accept_encoding: str | None = None,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A raw request (no automatic decoding, every header kept in order) to 127.0.0.1:port."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        sent = dict(headers or {})
        if accept_encoding is not None:
            sent["Accept-Encoding"] = accept_encoding
        conn.request(method, path, headers=sent)
        resp = conn.getresponse()
        return Response(resp.status, tuple(resp.getheaders()), resp.read())
    finally:
        conn.close()


# -- servers ---------------------------------------------------------------------------------------


def require(binary: str) -> str:
    """The binary's path; a missing server skips outside CI and fails in CI, where it must be installed."""
    found = shutil.which(binary) or next(
        (p for p in (f"/usr/sbin/{binary}", f"/usr/bin/{binary}") if os.access(p, os.X_OK)), None
    )
    if found is None:
        message = f"{binary} is not installed (apt-get install {binary})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def require_file(path: str, package: str) -> str:
    if not Path(path).exists():
        message = f"{path} is missing (apt-get install {package})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def check(argv: list[str], **kwargs: object) -> None:
    """Run a server's own config checker; its output is the assertion message on failure."""
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, **kwargs)  # type: ignore[call-overload]
    assert result.returncode == 0, f"{argv[0]} rejected the config:\n{result.stdout}\n{result.stderr}"


@dataclass(frozen=True, slots=True)
class Server:
    name: str
    port: int
    workdir: Path
    snippet: str


def serve(
    argv: list[str], port: int, log: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a server in the foreground and wait until its port answers (bounded)."""
    with log.open("ab") as sink:
        proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT, env=dict(env) if env else None)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"{argv[0]} exited with {proc.returncode}:\n{log.read_text(errors='replace')}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.05)
    stop(proc)
    raise AssertionError(f"{argv[0]} did not listen on {port}:\n{log.read_text(errors='replace')}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@contextlib.contextmanager
def running(argv: list[str], port: int, workdir: Path, env: Mapping[str, str] | None = None) -> Iterator[int]:
    proc = serve(argv, port, workdir / "server.log", env)
    try:
        yield port
    finally:
        stop(proc)


NGINX_BROTLI = "/usr/lib/nginx/modules/ngx_http_brotli_static_module.so"


def nginx_conf_file(workdir: Path, http: str) -> Path:
    """workdir/nginx.conf: a foreground nginx whose pid, logs and temp files stay in ``workdir``, around
    the given ``http { }`` directives."""
    temp = " ".join(
        f"{name}_temp_path {workdir}/{name};" for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = workdir / "nginx.conf"
    conf.write_text(
        f"""{"user root;" if os.geteuid() == 0 else ""}
daemon off;
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
load_module {NGINX_BROTLI};
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    {temp}
{http}
}}
"""
    )
    return conf


def nginx_config(workdir: Path, port: int, snippets: list[Path]) -> Path:
    """A minimal nginx.conf as hostile as Debian's defaults: gzip on, gzip_vary on, a regex location."""
    includes = "\n".join(f"        include {p};" for p in snippets)
    return nginx_conf_file(
        workdir,
        f"""    access_log {workdir}/access.log;
    gzip on;
    gzip_vary on;
    gzip_types text/css text/plain text/javascript application/javascript;
    server {{
        listen 127.0.0.1:{port};
        root {workdir}/decoy;
        # Without ^~ in the snippet this regex location would answer every .css and .js request.
        location ~ "\\.(css|js|mjs)$" {{ return 418; }}
{includes}
    }}""",
    )


@contextlib.contextmanager
def nginx(workdir: Path, snippets: list[Path]) -> Iterator[int]:
    """nginx serving the snippets: checked with ``nginx -t``, then run in the foreground."""
    binary = require("nginx")
    require_file(NGINX_BROTLI, "libnginx-mod-http-brotli-static")
    port = free_port()
    conf = nginx_config(workdir, port, snippets)
    prefix = ["-p", f"{workdir}/", "-c", str(conf), "-e", f"{workdir}/error.log"]
    check([binary, "-t", *prefix])
    with running([binary, *prefix], port, workdir) as bound:
        yield bound


def caddy_config(workdir: Path, port: int, snippets: list[Path]) -> Path:
    imports = "\n".join(f"\timport {p}" for p in snippets)
    conf = workdir / "Caddyfile"
    conf.write_text(
        f"""{{
\tadmin off
\tauto_https off
\tstorage file_system {workdir}/storage
}}

http://127.0.0.1:{port} {{
{imports}
}}
"""
    )
    return conf


@contextlib.contextmanager
def caddy(workdir: Path, snippets: list[Path]) -> Iterator[int]:
    """Caddy serving the snippets: checked with ``caddy validate``, then ``caddy run``."""
    binary = require("caddy")
    port = free_port()
    conf = caddy_config(workdir, port, snippets)
    env = {**os.environ, "HOME": str(workdir), "XDG_DATA_HOME": str(workdir), "XDG_CONFIG_HOME": str(workdir)}
    argv = ["--config", str(conf), "--adapter", "caddyfile"]
    check([binary, "validate", *argv], env=env)
    with running([binary, "run", *argv], port, workdir, env) as bound:
        yield bound


APACHE_MODULES = "/usr/lib/apache2/modules"
APACHE_LOAD = (
    "mpm_event",
    "authz_core",
    "alias",
    "rewrite",
    "headers",
    "mime",
    "dir",
    "filter",
    "deflate",
    "setenvif",
)


def apache_config(workdir: Path, port: int, snippets: list[Path]) -> Path:
    """A self-contained apache2 config that also reads Debian's mime.conf and deflate.conf, the traps."""
    loads = "\n".join(f"LoadModule {m}_module {APACHE_MODULES}/mod_{m}.so" for m in APACHE_LOAD)
    debian = "\n".join(
        f"Include {p}"
        for p in ("/etc/apache2/mods-available/mime.conf", "/etc/apache2/mods-available/deflate.conf")
        if Path(p).exists()
    )
    includes = "\n".join(f'Include "{p}"' for p in snippets)
    user = "User www-data\nGroup www-data" if os.geteuid() == 0 else ""
    (workdir / "decoy").mkdir(exist_ok=True)
    conf = workdir / "apache2.conf"
    conf.write_text(
        f"""ServerRoot "{workdir}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile "{workdir}/httpd.pid"
ErrorLog "{workdir}/error.log"
LogLevel warn
DefaultRuntimeDir "{workdir}"
Mutex file:{workdir} default
{user}
{loads}
TypesConfig /etc/mime.types
{debian}
DocumentRoot "{workdir}/decoy"
<Directory />
    AllowOverride None
    Require all denied
</Directory>
{includes}
"""
    )
    return conf


@contextlib.contextmanager
def apache(workdir: Path, snippets: list[Path]) -> Iterator[int]:
    """apache2 serving the snippets: checked with ``apache2 -t``, then run with -DFOREGROUND."""
    binary = require("apache2")
    require_file(f"{APACHE_MODULES}/mod_rewrite.so", "apache2")
    port = free_port()
    conf = apache_config(workdir, port, snippets)
    check([binary, "-t", "-f", str(conf)])
    with running([binary, "-f", str(conf), "-DFOREGROUND"], port, workdir) as bound:
        yield bound


SERVERS: Mapping[str, Callable[[Path, list[Path]], contextlib.AbstractContextManager[int]]] = {
    "nginx": nginx,
    "caddy": caddy,
    "apache": apache,
}
