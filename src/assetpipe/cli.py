"""The command line: parse, call the library, print. The only module that prints or exits.

stdout carries only a command's product (a snippet, verify's JSON); progress, summaries and errors go to
stderr, so ``assetpipe snippet nginx > static.conf`` is always safe.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import click

from assetpipe import __version__
from assetpipe.codecs import CODECS
from assetpipe.errors import AssetpipeError

if TYPE_CHECKING:
    from assetpipe.manifest import Manifest
    from assetpipe.pipeline import BuildReport

F = TypeVar("F", bound=Callable[..., Any])


def _fail(exc: AssetpipeError, verbose: bool, source: Path | None = None) -> None:
    if verbose:
        traceback.print_exception(exc, file=sys.stderr)
    click.echo(f"error: {exc.render(source)}", err=True)
    sys.exit(exc.exit_code)


def _run(verbose: bool, fn: Callable[[], Any], source: Path | None = None) -> Any:
    """Call into the library, turning an AssetpipeError into one line on stderr and an exit code.

    ``source`` is SRC, so that a source file's error names it as the user would type it.
    """
    try:
        return fn()
    except AssetpipeError as exc:
        _fail(exc, verbose, source)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


def _size(n: int) -> str:
    return f"{n} B" if n < 1000 else f"{n / 1000:.1f} kB" if n < 1_000_000 else f"{n / 1_000_000:.1f} MB"


def _actions(report: BuildReport) -> Mapping[str, Sequence[str]]:
    """Per-file actions (read, reused, written, compressed, from cache), where the build records them.

    The interface the CLI expects from the pipeline: ``BuildReport.outcomes``, logical path -> actions in
    the order they happened. Until a build reports them, the per-file records carry what the manifest
    says (name, size, siblings) and the summary carries the counts.
    """
    outcomes = getattr(report, "outcomes", None)
    return outcomes if isinstance(outcomes, Mapping) else {}


def file_records(report: BuildReport) -> list[dict[str, Any]]:
    """One record per published file, sorted by logical path: for --verbose and build --json."""
    actions = _actions(report)
    records: list[dict[str, Any]] = []
    for logical, entry in sorted(report.manifest.assets.items()):
        record: dict[str, Any] = {
            "logical_path": logical,
            "path": entry.path,
            "size": entry.size,
            "immutable": entry.immutable,
            "encodings": {
                name: {"path": e.path, "size": e.size} for name, e in sorted(entry.encodings.items())
            },
        }
        if logical in actions:
            record["actions"] = list(actions[logical])
        records.append(record)
    return records


def file_line(record: Mapping[str, Any]) -> str:
    """``css/app.css -> css/app.3f2a1b9c0d4e.css (1.2 kB; br 402 B, gzip 455 B) [written, compressed]``"""
    siblings = ", ".join(f"{name} {_size(e['size'])}" for name, e in record["encodings"].items())
    sizes = _size(record["size"]) + (f"; {siblings}" if siblings else "")
    line = f"  {record['logical_path']} -> {record['path']} ({sizes})"
    if "actions" in record:
        line += f" [{', '.join(record['actions'])}]"
    return line


def build_json(report: BuildReport) -> dict[str, Any]:
    """``build --json``: the summary's numbers, the warnings and a record per file."""
    summary: dict[str, Any] = {}
    for f in dataclasses.fields(report):
        value = getattr(report, f.name)
        if f.name in ("made", "totals", "warnings", "outcomes"):  # the manifest's own records follow
            continue
        if isinstance(value, Path):
            value = str(value)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):  # remote counts, the shard
            value = dataclasses.asdict(value)
        summary[f.name] = value
    return {"summary": summary, "warnings": [str(w) for w in report.warnings], "files": file_records(report)}


class TerminalReporter:
    """A progress bar on stderr for builds longer than about a second, and only on a terminal."""

    DELAY = 1.0

    def __init__(self, *, quiet: bool, verbose: bool) -> None:
        self.enabled = not quiet and sys.stderr.isatty()
        self.verbose = verbose
        self.total = 0
        self.done = 0
        self.started = 0.0
        self.phase = "building"
        self.drawn = 0.0

    def start(self, total: int) -> None:
        # Called once for writing and again for the compression still running after it; finish() ends both.
        self.phase = "compressing" if self.total else "building"
        if self.phase == "building":
            self.started = time.monotonic()
        self.total, self.done = total, 0

    def advance(self, count: int = 1) -> None:
        self.done += count
        if not self.enabled or self.total == 0:
            return
        now = time.monotonic()
        if now - self.started < self.DELAY or now - self.drawn < 0.1:
            return
        self.drawn = now
        width = 30
        filled = width * self.done // self.total
        bar = "#" * filled + "-" * (width - filled)
        click.echo(f"\r{self.phase:<11} [{bar}] {self.done}/{self.total}", err=True, nl=False)

    def finish(self) -> None:
        if self.enabled and self.drawn:
            click.echo("\r" + " " * 60 + "\r", err=True, nl=False)
        self.total = 0  # a build that starts over (an untrue record) begins with "building" again

    def waiting(self, message: str) -> None:
        click.echo(message, err=True)


def _codec_options() -> list[Callable[[F], F]]:
    """--KEY/--no-KEY for each codec in the registry (and --KEY-backend where it has a choice)."""
    options: list[Callable[[F], F]] = []
    for codec in CODECS.values():
        key = codec.config_key
        state = "on" if codec.default else "off"
        options.append(
            click.option(
                f"--{key}/--no-{key}",
                key,
                default=None,
                help=f"Write {codec.suffix} siblings ({codec.name}; default {state}).",
            )
        )
        if len(codec.backends) > 1:
            names = list(codec.backends)
            options.append(
                click.option(
                    f"--{key}-backend",
                    f"{key}_backend",
                    type=click.Choice(names),
                    help=f"How to make {codec.suffix} siblings: {', '.join(names)} (default {names[0]}).",
                )
            )
    return options


def build_options(fn: F) -> F:
    """Options shared by build and watch (same config, same output layout)."""
    options = [
        click.option("--source", "-s", type=click.Path(path_type=Path), help="Source root (SRC)."),
        click.option("--output", "-o", type=click.Path(path_type=Path), help="Output directory (OUT)."),
        click.option("--base-url", help="URL prefix OUT is served under (default /static/)."),
        click.option(
            "--config",
            "config_file",
            type=click.Path(path_type=Path),
            help="assetpipe.toml or pyproject.toml to read (default: found in the working directory).",
        ),
        click.option("--jobs", "-j", type=click.IntRange(min=1), help="Compression workers (default: CPUs)."),
        click.option("--no-compress", is_flag=True, default=None, help="Write no precompressed siblings."),
        *_codec_options(),
        click.option("--cache-dir", type=click.Path(path_type=Path), help="Compression cache directory."),
        click.option("--no-wait", is_flag=True, help="Fail at once if another build holds OUT's lock."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar, no summary."),
        click.option(
            "--verbose",
            "-v",
            is_flag=True,
            help="List every file with its output name and siblings; tracebacks.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _overrides(params: dict[str, Any]) -> dict[str, Any]:
    """Flags that were given, as config keys (flags override the config file)."""
    mapping = {
        "source": "source",
        "output": "output",
        "base_url": "base_url",
        "jobs": "jobs",
        "cache_dir": "cache_dir",
    }
    for codec in CODECS.values():
        mapping[codec.config_key] = codec.config_key
        if len(codec.backends) > 1:
            mapping[f"{codec.config_key}_backend"] = f"{codec.config_key}_backend"
    out: dict[str, Any] = {key: params[flag] for flag, key in mapping.items() if params.get(flag) is not None}
    if params.get("no_compress"):
        out["compress"] = False
    return out


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="assetpipe")
def cli() -> None:
    """Fingerprint, precompress and manifest static assets."""


def config_option(fn: F) -> F:
    return click.option(
        "--config",
        "config_file",
        type=click.Path(path_type=Path, dir_okay=False),
        help="assetpipe.toml or pyproject.toml to read (default: found in the working directory).",
    )(fn)


@cli.command()
@build_options
@click.option(
    "--shard",
    metavar="K/N",
    help="CI matrix job K of N: compress only this job's share of the siblings into the caches; publish "
    "nothing (a final ordinary build then finds every sibling in the cache).",
)
@click.option(
    "--repair",
    is_flag=True,
    help="Trust no record of earlier builds: check every output and sibling in OUT byte for byte and restore "
    "any that differ.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the summary and a record per file as JSON on stdout."
)
@click.option(
    "--report", "size_table", is_flag=True,
    help="Print a size table on stdout: what changed since the previous manifest, totals, budgets.",
)  # fmt: skip
def build(**params: Any) -> None:
    """Build SRC into content-hashed files, siblings and OUT/manifest.json."""
    from assetpipe.config import load_config
    from assetpipe.pipeline import build as run_build

    verbose = bool(params["verbose"])
    config = _run(verbose, lambda: load_config(params.get("config_file"), Path.cwd(), _overrides(params)))
    shard = None
    if params.get("shard") is not None:
        from assetpipe.shard import parse_shard

        shard = _run(verbose, lambda: parse_shard(params["shard"]))
    previous = _previous_manifest(config.output) if params["size_table"] else None
    reporter = TerminalReporter(quiet=bool(params["quiet"]) or bool(params["as_json"]), verbose=verbose)
    report = _run(
        verbose,
        lambda: run_build(
            config,
            reporter=reporter,
            wait=not params["no_wait"],
            repair=bool(params["repair"]),
            shard=shard,
        ),
        config.source,
    )
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    if verbose:
        for record in file_records(report):
            click.echo(file_line(record), err=True)
    if params["as_json"]:
        click.echo(json.dumps(build_json(report), indent=2, sort_keys=True))
    if not params["quiet"]:
        click.echo(report.summary(), err=True)
    if params["size_table"]:
        from assetpipe.report import size_report, table

        for line in table(size_report(report.manifest, previous, config.budgets)):
            click.echo(line)


def _previous_manifest(output: Path) -> Manifest | None:
    from assetpipe.report import load_previous

    return load_previous(output.resolve())


@cli.command()
@click.option("--output", "-o", type=click.Path(path_type=Path), default=Path("dist"), show_default=True)
@click.option("--html", "html_file", type=click.Path(path_type=Path), help="Write the page here.")
@click.option("--against", type=click.Path(path_type=Path), help="An older manifest.json to compare with.")
@click.option(
    "--config", "config_file", type=click.Path(path_type=Path),
    help="Config file whose budgets to mark (default: found in the working directory).",
)  # fmt: skip
@click.option("--verbose", "-v", is_flag=True)
def report(
    output: Path, html_file: Path | None, against: Path | None, config_file: Path | None, verbose: bool
) -> None:
    """Print OUT's size table; --html writes the page with a treemap, totals and the comparison."""
    from assetpipe.config import load_budgets
    from assetpipe.manifest import Manifest
    from assetpipe.report import size_report, table, write_html

    manifest = _run(verbose, lambda: Manifest.load(output / "manifest.json"))
    previous = _run(verbose, lambda: Manifest.load(against)) if against is not None else None
    budgets = _run(verbose, lambda: load_budgets(config_file, Path.cwd()))
    sizes = size_report(manifest, previous, budgets)
    for line in table(sizes):
        click.echo(line)
    if html_file is not None:
        _run(verbose, lambda: write_html(sizes, html_file))
        click.echo(f"wrote {html_file}", err=True)


@cli.command()
@build_options
@click.option("--compress", "compress_on", is_flag=True, help="Keep writing siblings while watching.")
@click.option("--debounce", type=click.FloatRange(min=0), help="Seconds to gather a burst of events (0.05).")
@click.option("--live-reload", is_flag=True, help="Tell open pages about each rebuild (live_reload_tag()).")
@click.option(
    "--live-reload-port", type=click.IntRange(1, 65535), default=35729, show_default=True,
    help="Port of the live reload server.",
)  # fmt: skip
@click.option(
    "--live-reload-host", default="127.0.0.1", show_default=True,
    help="Address the live reload server binds (anything but loopback is reachable from the network).",
)  # fmt: skip
def watch(**params: Any) -> None:
    """Build, then rebuild incrementally on every change until interrupted."""
    from assetpipe.config import load_config
    from assetpipe.watch import run_watch

    verbose = bool(params["verbose"])
    overrides = _overrides(params)
    overrides.setdefault("compress", bool(params["compress_on"]))
    config = _run(verbose, lambda: load_config(params.get("config_file"), Path.cwd(), overrides))
    debounce = params.get("debounce")
    quiet = bool(params["quiet"])

    def echo(line: str) -> None:
        # --quiet keeps what needs attention: errors and warnings, not the per-rebuild lines.
        if not quiet or line.startswith(("error:", "warning:")):
            click.echo(line, err=True)

    live_reload = (params["live_reload_host"], params["live_reload_port"]) if params["live_reload"] else None
    _run(verbose, lambda: run_watch(config, debounce=debounce, echo=echo, live_reload=live_reload))


def _output_settings(config_file: Path | None, output: Path | None, verbose: bool) -> Any:
    """OUT and the snippet root as a build would find them: config file, then flags on top."""
    from assetpipe.config import load_output_settings

    overrides = {"output": output} if output is not None else {}
    return _run(verbose, lambda: load_output_settings(config_file, Path.cwd(), overrides))


@cli.command()
@click.argument("server", type=click.Choice(["nginx", "caddy", "apache", "axum", "headers", "rust"]))
@click.option(
    "--manifest",
    "manifest_path",
    type=click.Path(path_type=Path),
    help="The manifest to serve (default: manifest.json in the configured OUT, else dist/).",
)
@click.option(
    "--root", help="Absolute path of OUT on the server (default: snippet_root, else the manifest's folder)."
)
@click.option("--serve-manifest", is_flag=True, help="Serve manifest.json (no-cache) instead of hiding it.")
@click.option(
    "--cors",
    "cors_origins",
    multiple=True,
    metavar="ORIGIN",
    help="'*' or an origin that may read the assets (repeatable); default: the config's cors, else '*'.",
)
@click.option("--no-cors", is_flag=True, help="Send no Access-Control-Allow-Origin.")
@click.option(
    "--link",
    "links",
    multiple=True,
    metavar="ROUTE=ASSET,ASSET",
    help="headers only: a preload Link header for an HTML route, e.g. /=css/app.css,js/main.js (repeatable).",
)
@config_option
@click.option("--verbose", "-v", is_flag=True, help="Show tracebacks.")
def snippet(
    server: str,
    manifest_path: Path | None,
    root: str | None,
    serve_manifest: bool,
    cors_origins: tuple[str, ...],
    no_cors: bool,
    links: tuple[str, ...],
    config_file: Path | None,
    verbose: bool,
) -> None:
    """Print server config that serves OUT's siblings, cache and CORS headers."""
    from assetpipe.config import load_cors
    from assetpipe.cors import OFF, parse_cors
    from assetpipe.manifest import Manifest
    from assetpipe.snippets import render

    if no_cors and cors_origins:
        raise click.UsageError("--cors and --no-cors exclude each other")
    routes: dict[str, list[str]] = {}
    for link in links:
        route, sep, assets = link.partition("=")
        if not sep:
            raise click.UsageError(f"--link {link!r}: expected ROUTE=ASSET,ASSET")
        if route in routes:
            raise click.UsageError(f"--link: route {route!r} given twice; list all its assets in one --link")
        routes[route] = [name.strip() for name in assets.split(",") if name.strip()]
    if no_cors:
        cors = OFF
    elif cors_origins:
        given = cors_origins[0] if cors_origins == ("*",) else list(cors_origins)
        cors = _run(verbose, lambda: parse_cors(given))
    else:
        cors = _run(verbose, lambda: load_cors(config_file, Path.cwd()))
    settings = _output_settings(config_file, None, verbose)
    manifest_path = manifest_path if manifest_path is not None else settings.output / "manifest.json"
    manifest = _run(verbose, lambda: Manifest.load(manifest_path))
    root_path = root
    if root_path is None:
        snippet_root = settings.snippet_root
        root_path = snippet_root if snippet_root is not None else str(manifest_path.resolve().parent)
    text = _run(
        verbose,
        lambda: render(
            server, manifest, root=root_path, serve_manifest=serve_manifest, cors=cors, links=routes
        ),
    )
    click.echo(text, nl=not text.endswith("\n"))


@cli.command()
@click.option(
    "--output", "-o", type=click.Path(path_type=Path), help="OUT (default: from the config, else dist)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@config_option
@click.option("--verbose", "-v", is_flag=True, help="Show tracebacks.")
def verify(output: Path | None, as_json: bool, config_file: Path | None, verbose: bool) -> None:
    """Check every manifest entry against the bytes on disk."""
    from assetpipe.verify import verify as run_verify

    settings = _output_settings(config_file, output, verbose)
    report = _run(verbose, lambda: run_verify(settings.output))
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2, sort_keys=True))
    else:
        for line in report.lines():
            click.echo(line)
    sys.exit(0 if report.ok else 1)


@cli.command()
@click.option(
    "--output", "-o", type=click.Path(path_type=Path), help="OUT (default: from the config, else dist)."
)
@click.option("--keep", type=click.IntRange(min=1), default=3, show_default=True, help="Newest builds kept.")
@click.option("--age", type=click.FloatRange(min=0), default=3600, show_default=True, help="Seconds.")
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
@click.option("--no-wait", is_flag=True, help="Fail at once if a build holds OUT's lock.")
@config_option
@click.option("--verbose", "-v", is_flag=True, help="Show tracebacks.")
def clean(
    output: Path | None,
    keep: int,
    age: float,
    dry_run: bool,
    no_wait: bool,
    config_file: Path | None,
    verbose: bool,
) -> None:
    """Remove files that no kept build references (with their .br and .gz)."""
    from assetpipe.clean import clean as run_clean

    settings = _output_settings(config_file, output, verbose)
    report = _run(
        verbose,
        lambda: run_clean(
            settings.output,
            keep=keep,
            age=age,
            dry_run=dry_run,
            wait=not no_wait,
            on_wait=lambda message: click.echo(message, err=True),
        ),
    )
    for line in report.lines():
        click.echo(line)


@cli.command()
@click.option("--output", "-o", type=click.Path(path_type=Path), default=Path("dist"), show_default=True)
@click.option("--to", "to", required=True, metavar="s3://BUCKET/PREFIX", help="Where to publish OUT.")
@click.option("--dry-run", is_flag=True, help="List what would be uploaded and deleted; send nothing.")
@click.option(
    "--jobs", "-j", type=click.IntRange(min=1), default=8, show_default=True, help="Uploads at once."
)
@click.option(
    "--keep",
    type=click.IntRange(min=1),
    help="Afterwards, delete objects no kept build references (clean's rule: the KEEP newest builds, any "
    "younger than --age, the live one). Without it nothing is deleted.",
)
@click.option("--age", type=click.FloatRange(min=0), help="With --keep: seconds (default 3600).")
@click.option("--quiet", "-q", is_flag=True, help="Only the summary line.")
@click.option("--verbose", "-v", is_flag=True)
def publish(
    output: Path,
    to: str,
    dry_run: bool,
    jobs: int,
    keep: int | None,
    age: float | None,
    quiet: bool,
    verbose: bool,
) -> None:
    """Upload OUT to S3-compatible storage: files and siblings with their headers, manifest last."""
    from assetpipe.s3publish import publish as run_publish

    if age is not None and keep is None:
        raise click.UsageError("--age applies only with --keep")
    kept_age = 3600.0 if age is None else age
    report = _run(
        verbose,
        lambda: run_publish(
            output,
            to,
            dry_run=dry_run,
            jobs=jobs,
            keep=keep,
            age=kept_age,
            on_wait=lambda message: click.echo(message, err=True),
        ),
    )
    lines = report.lines()
    for line in lines[-1:] if quiet else lines:
        click.echo(line)


class Duration(click.ParamType):  # type: ignore[type-arg]
    """Seconds, or a number with a unit: 90s, 45m, 12h, 30d, 2w."""

    name = "duration"
    UNITS: ClassVar[dict[str, int]] = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, (int, float)):
            return float(value)
        text = str(value).strip().lower()
        number = text.rstrip("smhdw")
        unit = text[len(number) :]
        try:
            seconds = float(number) * self.UNITS[unit]
        except (ValueError, KeyError):
            self.fail(f"{value!r}: expected seconds, or a number with a unit: 90s, 12h, 30d", param, ctx)
        if not 0 <= seconds < float("inf"):
            self.fail(f"{value!r}: must be a finite age, 0 or more", param, ctx)
        return seconds


@cli.group()
def cache() -> None:
    """The compression caches: prune the shared remote cache."""


@cache.command("prune")
@click.option("--remote", is_flag=True, help="Prune the remote cache (cache_url; required for now).")
@click.option(
    "--age", type=Duration(), required=True,
    help="Delete entries last modified longer ago than this: seconds, or 90s, 45m, 12h, 30d, 2w.",
)  # fmt: skip
@click.option(
    "--url", metavar="s3://BUCKET/PREFIX", help="The remote cache (default: cache_url, as a build finds it)."
)
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@config_option
@click.option("--verbose", "-v", is_flag=True, help="Show tracebacks.")
def cache_prune(
    remote: bool, age: float, url: str | None, dry_run: bool, config_file: Path | None, verbose: bool
) -> None:
    """Delete remote cache entries last modified longer ago than --age.

    An entry deleted while still in use costs one compression and upload at the next build that needs it.
    """
    from assetpipe.config import load_cache_url
    from assetpipe.remote import prune

    if not remote:
        raise click.UsageError("only --remote is supported: every build prunes the local cache to its budget")
    if url is None:
        url = _run(verbose, lambda: load_cache_url(config_file, Path.cwd()))
        if url is None:
            raise click.UsageError("no remote cache: pass --url, or set cache_url (or ASSETPIPE_CACHE_URL)")
    report = _run(verbose, lambda: prune(url, age, dry_run=dry_run))
    click.echo(report.line())


def main() -> None:
    """Console-script entry point."""
    cli()
