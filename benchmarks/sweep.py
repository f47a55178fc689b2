"""Build real npm packages as they are published and record every error and warning (issue 12's sweep).

    python benchmarks/sweep.py                   # the default list below (about 55 packages)
    python benchmarks/sweep.py leaflet katex     # some packages (any npm spec: "codemirror@5")
    python benchmarks/sweep.py --markdown        # also print the results as a Markdown table
    python benchmarks/sweep.py --report --markdown   # build nothing: the table of every result so far

Each package is fetched with ``npm pack`` (the ordinary client) into benchmarks/.work/sweep/ (gitignored;
a tarball already there is reused), extracted, and its folder built as SRC twice, without compression:

- with ``broken_references = "warn"``: every broken reference is a warning line; an error that still
  stops the build (a malformed file, an import cycle, an extensionless import) is recorded, its file is
  added to ``exclude`` and the build is run again, so every such error is listed, not only the first;
- with ``broken_references = "error"`` (the default): the line the build stops with, as a user sees it.

A package that cannot be downloaded is listed as skipped. Each package's result goes to
benchmarks/.work/sweep/results/<package>.json (so runs can be split); the summary is printed, over
every result there with ``--all``. Each line gets a first classification from its message (``classify``); the
verdict on whether it is genuine or false is a reading of the package, written up in docs/vendor-sweep.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from assetpipe.config import Config
from assetpipe.errors import AssetpipeError
from assetpipe.pipeline import build

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work" / "sweep"

#: The packages of the earlier sweep (README, "Vendor trees"), latest published versions unless pinned.
PACKAGES: tuple[str, ...] = (
    "leaflet", "katex", "bootstrap-icons", "tinymce", "three", "pdfjs-dist", "d3", "lit", "chart.js",
    "highlight.js", "swiper", "mathjax", "bootstrap", "@fortawesome/fontawesome-free", "htmx.org",
    "boxicons", "ionicons", "codemirror@5", "flatpickr", "alpinejs", "preact", "rxjs", "jquery",
    "normalize.css", "animate.css", "feather-icons", "simple-icons", "@mdi/font",
    "material-design-icons-iconfont", "font-awesome@4", "swagger-ui-dist", "ace-builds", "monaco-editor",
    "video.js", "plyr", "quill", "trix", "tom-select", "choices.js", "sortablejs", "dropzone", "photoswipe",
    "glightbox", "aos", "apexcharts", "echarts", "@popperjs/core", "tippy.js", "dayjs", "luxon", "moment",
    "lodash-es", "marked", "prismjs", "mermaid",
)  # fmt: skip

#: Hard errors re-run with the file excluded at most this many times per package.
MAX_RERUNS = 30

#: (pattern on the line, class): the first that matches names the line's class.
_CLASSES: tuple[tuple[str, str], ...] = (
    (r"reference cycle", "cycle"),
    (r"broken reference '[^']*\.map'", "missing source map"),
    (r"worker script .* plain string", "page-relative worker (warning by design)"),
    (r"not valid JSON|well-formed|not valid XML|malformed|cannot parse|UTF-8|encoding|entity", "malformed"),
    (r"outside|escapes", "escapes source"),
    (r"broken reference|no such file", "missing file"),
)
#: A missing file whose suggestion is the same name with an extension (.ts too: TypeScript sources
#: shipped beside the build): an import written for a bundler.
_BUNDLER = re.compile(r"no file '([^']*)' .*did you mean '\1(/index)?\.(m?js|tsx?)'")

_ERROR_PATH = re.compile(r"\w+: (.+?)(?::\d+)?(?::\d+)?: ")
_MISSING = re.compile(r"broken reference '[^']*': no file '([^']*)'")
_NEW_FORMATS = re.compile(r"(\.svg|\.webmanifest|(^|/)manifest\.json|(^|/)browserconfig\.xml)(:|$)", re.I)


@dataclass
class Result:
    """What building one package did."""

    spec: str
    tarball: str = ""
    files: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)  # warn mode: every error that stopped a build
    warnings: list[str] = field(default_factory=list)  # warn mode: broken references and other warnings
    strict: str = "ok"  # error mode: the line the build stopped with, or "ok"
    excluded: list[str] = field(default_factory=list)  # files excluded after an error, in order
    skipped: str = ""  # why the package was not built (download failed)

    def __post_init__(self) -> None:
        if self.errors and not self.excluded:  # a result written before "excluded" was recorded
            self.excluded = [m[1] for line in self.errors if (m := _ERROR_PATH.match(line))]

    def classes(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for line in (*self.errors, *self.warnings):
            name = classify(line, self.excluded)
            counts[name] = counts.get(name, 0) + 1
        return dict(sorted(counts.items()))


def classify(line: str, excluded: list[str] | tuple[str, ...] = ()) -> str:
    """A first class for one error or warning line, from its wording; lines in the new formats are flagged.

    An error line starts with the error's type (``ReferenceCycle: src/a.js:1:2: ...``), a warning with
    the file. A missing file that the sweep itself excluded after an error is classed as such.
    """
    where = _ERROR_PATH.match(line) if re.match(r"[A-Z]\w+: ", line) else re.match(r"(.+?)(?::\d+)*: ", line)
    path = where[1] if where else ""
    missing = _MISSING.search(line)
    if _BUNDLER.search(line):
        base = "bundler-style import"
    elif missing and missing[1] in excluded:
        base = "missing: excluded by the sweep"
    else:
        base = next((name for pattern, name in _CLASSES if re.search(pattern, line, re.I)), "other")
    return f"NEW FORMAT {base}" if _NEW_FORMATS.search(path) else base


def _safe(spec: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", spec.lstrip("@"))


def fetch(spec: str, work: Path = WORK) -> tuple[Path, str]:
    """The extracted package folder for ``spec`` and its tarball's name, downloading it if needed."""
    tarballs = work / "tgz"
    tarballs.mkdir(parents=True, exist_ok=True)
    marker = tarballs / f"{_safe(spec)}.name"
    if not (marker.is_file() and (tarballs / marker.read_text().strip()).is_file()):
        done = subprocess.run(
            ["npm", "pack", spec, "--silent", "--pack-destination", str(tarballs)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            raise RuntimeError((done.stderr.strip().splitlines() or ["npm pack failed"])[-1])
        marker.write_text(lines[-1] + "\n")
    name = marker.read_text().strip()
    target = work / "pkg" / _safe(spec)
    if not target.is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            with tarfile.open(tarballs / name) as tar:
                tar.extractall(tmp, filter="data")
            top = next(Path(tmp).iterdir())  # "package/", or another single folder in some tarballs
            shutil.move(str(top), target)
    return target, name


def _exclude_glob(logical_path: str) -> str:
    """A gitignore pattern matching exactly ``logical_path`` (anchored, special characters escaped)."""
    return "/" + re.sub(r"([\\*?\[\]])", r"\\\1", logical_path)


def _build(source: Path, out: Path, mode: str, exclude: tuple[str, ...] = ()) -> list[str]:
    """Build ``source`` once into ``out``; its warning lines, or raises the AssetpipeError."""
    config = Config(
        source=source,
        output=out / "out",
        cache_dir=out / "cache",
        compress=False,
        broken_references=mode,
        exclude=exclude,
    )
    return list(build(config).warnings)


def sweep_one(spec: str, work: Path = WORK) -> Result:
    """Fetch and build one package in both modes."""
    result = Result(spec)
    try:
        source, result.tarball = fetch(spec, work)
    except (RuntimeError, OSError, subprocess.TimeoutExpired, tarfile.TarError) as exc:
        result.skipped = str(exc) or type(exc).__name__
        return result
    result.files = sum(1 for p in source.rglob("*") if p.is_file())
    started = time.perf_counter()
    excluded: list[str] = []
    with tempfile.TemporaryDirectory(prefix="sweep-") as tmp:  # one OUT: a re-run reuses what it can
        for _ in range(MAX_RERUNS):
            try:
                result.warnings = _build(source, Path(tmp), "warn", tuple(excluded))
                break
            except AssetpipeError as exc:
                result.errors.append(f"{type(exc).__name__}: {exc}")
                if exc.path is None or exc.path in result.excluded:
                    break
                result.excluded.append(exc.path)
                excluded.append(_exclude_glob(exc.path))
        else:
            result.errors.append(f"(stopped after {MAX_RERUNS} re-runs)")
        try:
            _build(source, Path(tmp), "error")
        except AssetpipeError as exc:
            result.strict = f"{type(exc).__name__}: {exc}"
    result.seconds = round(time.perf_counter() - started, 1)
    return result


#: Classes that are problems of the package itself (README, "Vendor trees"), not of assetpipe's reading.
GENUINE = frozenset(
    {"bundler-style import", "cycle", "missing source map", "missing file", "missing: excluded by the sweep"}
)


def verdict(r: Result) -> str:
    """``builds``, ``genuine`` when every line is of a known class of package problem, else ``REVIEW``."""
    classes = r.classes()
    if not classes:
        return "builds"
    return "genuine" if GENUINE.issuperset(classes) else "REVIEW"


def _short(line: str) -> str:
    """An error line up to what it names: ``src/a.js:1:2: broken reference './b'``."""
    line = line.split(": no file ", 1)[0]
    return line.split(": reference cycle: ", 1)[0] + (
        ": reference cycle" if "reference cycle" in line else ""
    )


def markdown(results: list[Result]) -> str:
    """The results as a Markdown table: package, files, errors, warnings, classes, verdict."""
    rows = [
        "| package | files | errors | warnings | classes | verdict | default build stops at |",
        "| --- | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for r in results:
        if r.skipped:
            rows.append(f"| {r.spec} | - | - | - | skipped: {r.skipped} | - | - |")
            continue
        classes = ", ".join(f"{name} {n}" for name, n in r.classes().items()) or "-"
        stop = "-" if r.strict == "ok" else "`" + _short(r.strict.split(": ", 1)[-1]) + "`"
        version = r.tarball.removesuffix(".tgz")
        rows.append(
            f"| {version} | {r.files} | {len(r.errors)} | {len(r.warnings)} | {classes} | {verdict(r)} | {stop} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("packages", nargs="*", default=list(PACKAGES), help="npm specs (default: the list)")
    parser.add_argument("--work", type=Path, default=WORK, help="where tarballs and packages go")
    parser.add_argument("--markdown", action="store_true", help="print the results as a Markdown table")
    parser.add_argument("--report", action="store_true", help="build nothing: summarise WORK/results/")
    args = parser.parse_args(argv)
    if shutil.which("npm") is None:
        print("sweep: npm is not installed", file=sys.stderr)
        return 2
    results: list[Result] = []
    (args.work / "results").mkdir(parents=True, exist_ok=True)
    for spec in [] if args.report else args.packages:
        r = sweep_one(spec, args.work)
        results.append(r)
        state = (
            f"skipped ({r.skipped})"
            if r.skipped
            else f"{r.files} files, {len(r.errors)} errors, {len(r.warnings)} warnings, {r.seconds}s"
        )
        print(f"{spec}: {state}", flush=True)
        for name, n in r.classes().items():
            print(f"    {n} {name}", flush=True)
        for line in (*r.errors, *r.warnings):  # the lines to read: errors, and all in the new formats
            if line in r.errors or classify(line).startswith("NEW"):
                print(f"    [{classify(line)}] {line}", flush=True)
        (args.work / "results" / f"{_safe(spec)}.json").write_text(json.dumps(asdict(r), indent=1) + "\n")
    if args.report:
        results = [
            Result(**json.loads(p.read_text())) for p in sorted((args.work / "results").glob("*.json"))
        ]
    built = [r for r in results if not r.skipped]
    flagged = sum(1 for r in built for line in (*r.errors, *r.warnings) if classify(line).startswith("NEW"))
    print(
        f"{len(built)} packages built ({len(results) - len(built)} skipped), "
        f"{sum(r.files for r in built)} files, {sum(len(r.errors) for r in built)} errors, "
        f"{sum(len(r.warnings) for r in built)} warnings, {flagged} in the new formats"
    )
    if args.markdown:
        print(markdown(results))
    return 0


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())
