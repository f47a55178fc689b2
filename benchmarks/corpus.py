"""Fetch and lay out the benchmark corpus: real front-end packages plus Django's admin static files.

    python benchmarks/corpus.py            # benchmarks/corpus/1x (about 2,400 files, 22 MB)
    python benchmarks/corpus.py --scale 4  # also benchmarks/corpus/4x: 4 copies whose bytes all differ

The corpus is real on purpose: 2,000 small SVGs (where zopfli's fixed cost per call dominates), big JS with
source maps, CSS with web fonts, SCSS/LESS sources. Packages come from the npm registry through ``npm pack``
(the ordinary client), at a pinned major version; the exact versions resolved are written to
corpus/VERSIONS so a table can name them. benchmarks/corpus/ is gitignored.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
#: npm spec -> directory name in the corpus.
PACKAGES: dict[str, str] = {
    "bootstrap@5": "bootstrap",
    "@fortawesome/fontawesome-free@6": "fontawesome-free",
    "htmx.org@2": "htmx",
}
DJANGO_DIR = "django-admin"

#: How a scaled copy changes a file so its bytes (and so its digest) differ while it stays valid of its kind.
_COMMENTS: dict[str, tuple[bytes, bytes]] = {
    ".css": (b"/* copy ", b" */\n"),
    ".scss": (b"/* copy ", b" */\n"),
    ".less": (b"/* copy ", b" */\n"),
    ".js": (b"/* copy ", b" */\n"),
    ".mjs": (b"/* copy ", b" */\n"),
    ".cjs": (b"/* copy ", b" */\n"),
    ".ts": (b"/* copy ", b" */\n"),
    ".svg": (b"<!-- copy ", b" -->\n"),
    ".html": (b"<!-- copy ", b" -->\n"),
    ".md": (b"<!-- copy ", b" -->\n"),
    ".yml": (b"# copy ", b"\n"),
    ".yaml": (b"# copy ", b"\n"),
    ".txt": (b"copy ", b"\n"),
}


def _npm_pack(spec: str, dest: Path) -> Path:
    """Download one package tarball with ``npm pack`` and return its path."""
    result = subprocess.run(
        ["npm", "pack", spec, "--pack-destination", str(dest), "--silent"],
        check=True,
        capture_output=True,
        text=True,
        cwd=dest,
    )
    name = result.stdout.strip().splitlines()[-1]
    return dest / name


def _extract(tarball: Path, target: Path) -> None:
    """Extract an npm tarball's ``package/`` folder into ``target`` (data filter: no links out, no devices)."""
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp, filter="data")
        shutil.move(str(Path(tmp) / "package"), target)


def django_admin_static() -> Path:
    """The installed Django's admin static folder (the part collectstatic would copy for the admin)."""
    import django

    return Path(django.__file__).resolve().parent / "contrib" / "admin" / "static"


def fetch(root: Path = CORPUS, *, force: bool = False) -> Path:
    """Make ``root/1x`` if missing (or always with ``force``); return it."""
    one = root / "1x"
    if one.is_dir() and not force:
        return one
    if one.exists():
        shutil.rmtree(one)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="1x-", dir=root))
    versions: list[str] = []
    with tempfile.TemporaryDirectory(dir=root) as download:
        for spec, name in PACKAGES.items():
            tarball = _npm_pack(spec, Path(download))
            _extract(tarball, staging / name)
            versions.append(f"{spec} -> {tarball.name}")
    import django

    shutil.copytree(django_admin_static(), staging / DJANGO_DIR)
    versions.append(f"django admin static -> django {django.__version__}")
    (root / "VERSIONS").write_text("\n".join(versions) + "\n")
    staging.rename(one)
    return one


def _perturb(data: bytes, suffix: str, copy: int) -> bytes:
    """Bytes of ``data`` as copy ``copy`` of a scaled corpus: a comment (text) or trailing bytes appended."""
    if copy == 0:
        return data
    start, end = _COMMENTS.get(suffix, (b"\n", b""))
    if suffix in _COMMENTS:
        # On a line of its own: after a trailing `//# sourceMappingURL=x.map` or `/*# ... */` without a
        # final newline, the comment would otherwise become part of the source-map URL.
        lead = b"" if data.endswith(b"\n") or not data else b"\n"
        return data + lead + start + str(copy).encode() + end
    # Other types (fonts, maps, JSON): a few trailing bytes; nothing in a build parses them strictly.
    return data + b"\n" * copy


def scale(n: int, root: Path = CORPUS, *, force: bool = False) -> Path:
    """Make ``root/{n}x``: n renamed copies of 1x, each copy's files changed a little so every digest differs."""
    one = fetch(root)
    target = root / f"{n}x"
    if target.is_dir() and not force:
        return target
    if target.exists():
        shutil.rmtree(target)
    staging = Path(tempfile.mkdtemp(prefix=f"{n}x-", dir=root))
    for copy in range(n):
        for src in sorted(one.rglob("*")):
            if not src.is_file():
                continue
            dest = staging / f"copy{copy}" / src.relative_to(one)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(_perturb(src.read_bytes(), src.suffix.lower(), copy))
    staging.rename(target)
    return target


def describe(tree: Path) -> str:
    """One line: files, total bytes, and a digest over paths and bytes (to tell two corpora apart)."""
    h = hashlib.sha256()
    files = 0
    total = 0
    for path in sorted(tree.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            files += 1
            total += len(data)
            h.update(path.relative_to(tree).as_posix().encode() + b"\0" + hashlib.sha256(data).digest())
    return f"{tree}: {files} files, {total / 1e6:.1f} MB, sha256 {h.hexdigest()[:16]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", type=Path, default=CORPUS, help="where to put the corpus")
    parser.add_argument("--scale", type=int, default=1, help="also make an Nx copy (N > 1)")
    parser.add_argument("--force", action="store_true", help="fetch and copy again")
    args = parser.parse_args(argv)
    one = fetch(args.root, force=args.force)
    print(describe(one))
    if args.scale > 1:
        print(describe(scale(args.scale, args.root, force=args.force)))
    return 0


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())
