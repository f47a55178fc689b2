"""The build report: what a build serves and what changed since another, from manifests alone.

``size_report(manifest, previous, budgets)`` gathers the numbers (sizes raw and per encoding, totals per
content type, the changes by logical path, the budgets); ``table`` renders the short terminal table that
``build --report`` prints (Vite's size table is the model); ``render_html`` renders one self-contained page:
inline CSS, inline SVG treemaps switched by radio buttons (no script), and a Content-Security-Policy that
forbids every request, so opening it from a CI artifact fetches nothing.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from assetpipe.budgets import Budget, BudgetResult, format_size, measure
from assetpipe.errors import ManifestError
from assetpipe.files import write_atomic
from assetpipe.manifest import MANIFEST_NAME, Manifest

#: The encodings a report shows, in column order ("raw" is the file itself).
MEASURES = ("raw", "br", "gzip")
#: Rows of the terminal table before it says "and N more".
TABLE_ROWS = 15
#: Files listed under "Largest files".
LARGEST = 20


@dataclass(frozen=True, slots=True)
class AssetSize:
    """One manifest entry's sizes: raw, and per encoding (None: no sibling, the raw file is served)."""

    logical_path: str
    path: str
    media_type: str
    raw: int
    br: int | None
    gzip: int | None
    hash: str

    def served(self, measure: str) -> int:
        """Bytes sent to a client that accepts ``measure`` (the raw file when there is no sibling)."""
        size = {"raw": self.raw, "br": self.br, "gzip": self.gzip}[measure]
        return self.raw if size is None else size


@dataclass(frozen=True, slots=True)
class Totals:
    """Files and bytes served, raw and per encoding, for one content type or the whole build."""

    files: int = 0
    raw: int = 0
    br: int = 0
    gzip: int = 0

    def add(self, asset: AssetSize) -> Totals:
        return Totals(
            self.files + 1,
            self.raw + asset.raw,
            self.br + asset.served("br"),
            self.gzip + asset.served("gzip"),
        )

    def get(self, measure: str) -> int:
        return {"raw": self.raw, "br": self.br, "gzip": self.gzip}[measure]


@dataclass(frozen=True, slots=True)
class Delta:
    """A logical path whose served bytes differ between two manifests."""

    logical_path: str
    status: str  # added | removed | grew | shrank | changed (new bytes, same size)
    old: AssetSize | None
    new: AssetSize | None

    def change(self, measure: str) -> int:
        before = self.old.served(measure) if self.old is not None else 0
        after = self.new.served(measure) if self.new is not None else 0
        return after - before


@dataclass(frozen=True, slots=True)
class SizeReport:
    """Everything the table and the page show."""

    base_url: str
    assets: tuple[AssetSize, ...]  # by logical path
    totals: Totals
    by_type: Mapping[str, Totals]
    deltas: tuple[Delta, ...] | None  # None: no older manifest to compare with
    previous_totals: Totals | None
    budgets: tuple[BudgetResult, ...] = field(default_factory=tuple)

    def largest(self, n: int = LARGEST, measure: str = "raw") -> tuple[AssetSize, ...]:
        return tuple(sorted(self.assets, key=lambda a: (-a.served(measure), a.logical_path))[:n])


def _sizes(manifest: Manifest) -> dict[str, AssetSize]:
    result = {}
    for name, entry in manifest.assets.items():
        br, gz = entry.encodings.get("br"), entry.encodings.get("gzip")
        result[name] = AssetSize(
            logical_path=name,
            path=entry.path,
            media_type=entry.content_type.split(";", 1)[0].strip().lower() or "unknown",
            raw=entry.size,
            br=br.size if br is not None else None,
            gzip=gz.size if gz is not None else None,
            hash=entry.hash,
        )
    return result


def _total(assets: Iterable[AssetSize]) -> Totals:
    totals = Totals()
    for asset in assets:
        totals = totals.add(asset)
    return totals


def deltas(previous: Manifest, current: Manifest) -> tuple[Delta, ...]:
    """Added, removed, grew, shrank or changed, by logical path; unchanged bytes are left out."""
    old, new = _sizes(previous), _sizes(current)
    result = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before is None:
            status = "added"
        elif after is None:
            status = "removed"
        elif before == replace(after, path=before.path):
            continue  # same bytes, same siblings (a hashed path follows from the hash)
        elif after.raw != before.raw:
            status = "grew" if after.raw > before.raw else "shrank"
        else:
            status = "changed"
        result.append(Delta(name, status, before, after))
    return tuple(result)


def size_report(
    manifest: Manifest, previous: Manifest | None = None, budgets: Sequence[Budget] = ()
) -> SizeReport:
    """The numbers for ``manifest``, compared with ``previous`` when given, with ``budgets`` measured."""
    sizes = _sizes(manifest)
    assets = tuple(sizes[name] for name in sorted(sizes))
    by_type: dict[str, Totals] = {}
    for asset in assets:
        by_type[asset.media_type] = by_type.get(asset.media_type, Totals()).add(asset)
    # A budget in an encoding no entry has a sibling in (a build without compression) is not judged.
    written = {name for entry in manifest.assets.values() for name in entry.encodings}
    return SizeReport(
        base_url=manifest.base_url,
        assets=assets,
        totals=_total(assets),
        by_type=dict(sorted(by_type.items())),
        deltas=deltas(previous, manifest) if previous is not None else None,
        previous_totals=_total(_sizes(previous).values()) if previous is not None else None,
        budgets=measure(budgets, manifest.assets, written),
    )


def load_previous(out: Path) -> Manifest | None:
    """OUT's manifest as it is now (before a build replaces it), or None if there is none yet."""
    try:
        return Manifest.load(out / MANIFEST_NAME)
    except ManifestError:
        return None


# -- the terminal table --------------------------------------------------------------------------------


def _signed(n: int) -> str:
    return ("+" if n > 0 else "-" if n < 0 else "±") + format_size(abs(n))


def table(report: SizeReport, rows: int = TABLE_ROWS) -> list[str]:
    """The short table: what changed (else the largest files), the totals, the budgets."""
    lines = []
    if report.deltas is None:
        picked: list[tuple[str, AssetSize | None, str]] = [
            (a.logical_path, a, "") for a in report.largest(rows)
        ]
        heading, hidden = "largest files", max(0, len(report.assets) - rows)
    else:
        ordered = sorted(report.deltas, key=lambda d: (-abs(d.change("raw")), d.logical_path))
        picked = [(d.logical_path, d.new or d.old, _delta_note(d)) for d in ordered[:rows]]
        heading, hidden = "changed files", max(0, len(ordered) - rows)
    width = max([len(heading), len("total"), *(len(name) for name, _, _ in picked)])
    lines.append(f"{heading:<{width}}  {'raw':>9}  {'br':>9}  {'gzip':>9}")
    for name, asset, note in picked:
        assert asset is not None
        sizes = "  ".join(f"{format_size(asset.served(m)):>9}" for m in MEASURES)
        lines.append(f"{name:<{width}}  {sizes}{'  ' + note if note else ''}")
    if report.deltas is not None and not report.deltas:
        lines.append("(no file changed)")
    if hidden:
        lines.append(f"... and {hidden} more")
    totals = "  ".join(f"{format_size(report.totals.get(m)):>9}" for m in MEASURES)
    note = f"{report.totals.files} files"
    if report.previous_totals is not None:
        change = report.totals.raw - report.previous_totals.raw
        note += f", {_signed(change)} raw, {_signed(report.totals.br - report.previous_totals.br)} br"
    lines.append(f"{'total':<{width}}  {totals}  {note}")
    lines.extend(_budget_line(result) for result in report.budgets)
    return lines


def _delta_note(delta: Delta) -> str:
    if delta.status in ("added", "removed"):
        return delta.status
    return f"{_signed(delta.change('raw'))} ({delta.status})"


def _budget_line(result: BudgetResult) -> str:
    budget = result.budget
    encoding = f" {budget.encoding}" if budget.encoding else ""
    if not result.measured:
        state = f"not measured (no {budget.encoding} siblings)"
    else:
        what = f"largest {format_size(result.size)}" if budget.each else format_size(result.size)
        state = f"{what}{encoding}: {'OVER' if result.over else 'ok'}"
    return f"budget {budget.pattern} ({budget.spec}): {state}"


# -- the page ----------------------------------------------------------------------------------------------

_COLOURS = {
    "text/css": "#4e79a7",
    "text/javascript": "#edc948",
    "application/javascript": "#edc948",
    "image": "#59a14f",
    "font": "#b07aa1",
    "text/html": "#f28e2b",
    "application/json": "#9c755f",
}
_OTHER = "#bab0ac"


def _colour(media_type: str) -> str:
    return _COLOURS.get(media_type) or _COLOURS.get(media_type.split("/", 1)[0]) or _OTHER


@dataclass
class _Dir:
    name: str
    dirs: dict[str, _Dir] = field(default_factory=dict)
    files: list[tuple[str, AssetSize]] = field(default_factory=list)

    def size(self, measure: str) -> int:
        files = sum(a.served(measure) for _, a in self.files)
        return files + sum(d.size(measure) for d in self.dirs.values())


def _tree(assets: Iterable[AssetSize]) -> _Dir:
    root = _Dir("")
    for asset in assets:
        node = root
        *parents, leaf = asset.logical_path.split("/")
        for part in parents:
            node = node.dirs.setdefault(part, _Dir(part))
        node.files.append((leaf, asset))
    return root


Rect = tuple[float, float, float, float]


def squarify(weights: Sequence[float], rect: Rect) -> list[Rect]:
    """Squarified treemap (Bruls, Huizing, van Wijk): ``weights`` (descending, > 0) tiled over ``rect``."""
    x, y, w, h = rect
    total = sum(weights)
    if total <= 0 or w <= 0 or h <= 0:
        return [(x, y, 0.0, 0.0) for _ in weights]
    scale = w * h / total
    areas = [weight * scale for weight in weights]
    out: list[Rect] = []
    i = 0
    while i < len(areas):
        short = min(w, h)
        row = [areas[i]]
        j = i + 1
        while j < len(areas) and _worst([*row, areas[j]], short) <= _worst(row, short):
            row.append(areas[j])
            j += 1
        row_total = sum(row)
        if w >= h:  # a column along the left edge
            column = row_total / h
            top = y
            for area in row:
                out.append((x, top, column, area / column))
                top += area / column
            x, w = x + column, w - column
        else:  # a row along the top edge
            height = row_total / w
            left = x
            for area in row:
                out.append((left, y, area / height, height))
                left += area / height
            y, h = y + height, h - height
        i = j
    return out


def _worst(row: Sequence[float], short: float) -> float:
    s = sum(row)
    return max(short * short * max(row) / (s * s), s * s / (short * short * min(row)))


def _treemap(root: _Dir, measure: str, width: int = 1200, height: int = 640) -> str:
    shapes: list[str] = []

    def place(node: _Dir, path: str, rect: Rect) -> None:
        items: list[tuple[int, str, _Dir | AssetSize]] = [
            (d.size(measure), name, d) for name, d in node.dirs.items()
        ] + [(a.served(measure), name, a) for name, a in node.files]
        items = sorted((i for i in items if i[0] > 0), key=lambda i: (-i[0], i[1]))
        for (size, name, item), (x, y, w, h) in zip(
            items, squarify([i[0] for i in items], rect), strict=True
        ):
            full = f"{path}{name}"
            if isinstance(item, AssetSize):
                title = html.escape(f"{full}: {format_size(size)} {measure}")
                shapes.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" '
                    f'fill="{_colour(item.media_type)}"><title>{title}</title></rect>'
                )
                if w > 60 and h > 14:
                    label = html.escape(_fit(name, w))
                    shapes.append(f'<text x="{x + 3:.1f}" y="{y + 12:.1f}">{label}</text>')
                continue
            labelled = w > 40 and h > 30
            title = html.escape(f"{full}/: {format_size(size)} {measure}")
            shapes.append(
                f'<rect class="dir" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}">'
                f"<title>{title}</title></rect>"
            )
            if labelled:
                label = html.escape(_fit(name + "/", w))
                shapes.append(f'<text class="dir" x="{x + 3:.1f}" y="{y + 12:.1f}">{label}</text>')
            inner = (x + 2, y + (16 if labelled else 2), w - 4, h - (18 if labelled else 4))
            if inner[2] > 1 and inner[3] > 1:
                place(item, full + "/", inner)

    place(root, "", (0.0, 0.0, float(width), float(height)))
    return (
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="treemap by {measure}">'
        + "".join(shapes)
        + "</svg>"
    )


def _fit(label: str, width: float) -> str:
    room = max(1, int(width / 7))
    return label if len(label) <= room else label[: max(1, room - 1)] + "…"


_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1d2330;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
table{border-collapse:collapse;margin:4px 0}
td,th{padding:3px 10px;border-bottom:1px solid #e3e6ea;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f4f5f7;font-weight:600}
td.name{font-family:ui-monospace,monospace;font-size:12.5px;word-break:break-all;text-align:left}
.added{color:#1a7f37}.removed{color:#a40e26}.grew{color:#a40e26}.shrank{color:#1a7f37}
.over{color:#fff;background:#c62828;font-weight:600}.ok{color:#1a7f37}.muted{color:#6b7280}
.switch{margin:6px 0}.switch label{margin-right:14px;cursor:pointer}
.map{display:none;border:1px solid #d0d4da}
#by-raw:checked~.maps .map-raw,#by-br:checked~.maps .map-br,#by-gzip:checked~.maps .map-gzip{display:block}
svg{width:100%;height:auto;display:block}svg rect{stroke:#fff;stroke-width:.6}
svg rect.dir{fill:#eef0f3;stroke:#9aa3ae;stroke-width:1}
svg text{font:11px system-ui,sans-serif;fill:#111;pointer-events:none}
svg text.dir{font-weight:600;fill:#333}
.legend span{display:inline-block;margin-right:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
"""


_POLICY = "default-src 'none'; style-src 'unsafe-inline'"


def _bytes(n: int | None, *, muted_none: bool = True) -> str:
    if n is None:
        return '<td class="muted" data-bytes="">–</td>' if muted_none else "<td></td>"
    return f'<td data-bytes="{n}">{format_size(n)}</td>'


def _saving(raw: int, size: int | None) -> str:
    if size is None or raw == 0:
        return '<td class="muted">–</td>'
    return f"<td>{1 - size / raw:.0%}</td>"


def render_html(report: SizeReport, title: str = "assetpipe build report") -> str:
    """The whole page as one string; deterministic for the same manifests."""
    e = html.escape
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # Belt and braces: nothing in the page may load anything, whatever a file name contains.
        f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f'<p class="muted">{report.totals.files} files under <code>{e(report.base_url)}</code></p>',
    ]
    parts += _totals_section(report)
    if report.budgets:
        parts += _budgets_section(report.budgets)
    if report.deltas is not None:
        parts += _deltas_section(report)
    parts += _treemap_section(report)
    parts += _largest_section(report)
    parts += _assets_section(report)
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _totals_section(report: SizeReport) -> list[str]:
    rows = [
        '<h2>Totals</h2><table id="totals"><tr><th>content type</th><th>files</th><th>raw</th>'
        "<th>br</th><th>saved</th><th>gzip</th><th>saved</th></tr>"
    ]
    for name, totals in [*report.by_type.items(), ("total", report.totals)]:
        rows.append(
            f'<tr data-type="{html.escape(name)}"><td>{html.escape(name)}</td><td>{totals.files}</td>'
            f"{_bytes(totals.raw)}{_bytes(totals.br)}{_saving(totals.raw, totals.br)}"
            f"{_bytes(totals.gzip)}{_saving(totals.raw, totals.gzip)}</tr>"
        )
    rows.append(
        '</table><p class="muted">A file without a sibling in an encoding counts with its raw size there: '
        "that is what a client accepting that encoding is sent.</p>"
    )
    return rows


def _budgets_section(results: Sequence[BudgetResult]) -> list[str]:
    rows = [
        '<h2>Budgets</h2><table id="budgets"><tr><th>pattern</th><th>budget</th><th>size</th><th></th></tr>'
    ]
    for r in results:
        state = (
            '<td class="muted">not measured</td>'
            if not r.measured
            else '<td class="over">over</td>'
            if r.over
            else '<td class="ok">ok</td>'
        )
        size = f"largest {format_size(r.size)}" if r.budget.each else format_size(r.size)
        rows.append(
            f'<tr data-over="{str(r.over).lower()}"><td class="name">{html.escape(r.budget.pattern)}</td>'
            f'<td>{html.escape(r.budget.spec)}</td><td data-bytes="{r.size}">{size}</td>{state}</tr>'
        )
    rows.append("</table>")
    return rows


def _deltas_section(report: SizeReport) -> list[str]:
    assert report.deltas is not None and report.previous_totals is not None
    before, after = report.previous_totals, report.totals
    rows = [
        "<h2>Compared with the older manifest</h2>",
        f"<p>{before.files} → {after.files} files; raw {format_size(before.raw)} → {format_size(after.raw)} "
        f"({_signed(after.raw - before.raw)}); br {format_size(before.br)} → {format_size(after.br)} "
        f"({_signed(after.br - before.br)})</p>",
    ]
    if not report.deltas:
        return [*rows, "<p>No file changed.</p>"]
    rows.append(
        '<table id="deltas"><tr><th>logical path</th><th>change</th><th>raw before</th><th>raw after</th>'
        "<th>Δ raw</th><th>Δ br</th><th>Δ gzip</th></tr>"
    )
    for d in sorted(report.deltas, key=lambda d: (d.status, d.logical_path)):
        rows.append(
            f'<tr data-logical="{html.escape(d.logical_path)}" data-status="{d.status}">'
            f'<td class="name">{html.escape(d.logical_path)}</td><td class="{d.status}">{d.status}</td>'
            f"{_bytes(d.old.raw if d.old else None)}{_bytes(d.new.raw if d.new else None)}"
            + "".join(f'<td data-bytes="{d.change(m)}">{_signed(d.change(m))}</td>' for m in MEASURES)
            + "</tr>"
        )
    rows.append("</table>")
    return rows


def _treemap_section(report: SizeReport) -> list[str]:
    root = _tree(report.assets)
    legend = "".join(
        f'<span><i style="background:{colour}"></i>{html.escape(name)}</span>'
        for name, colour in [("CSS", "#4e79a7"), ("JavaScript", "#edc948"), ("images", "#59a14f"),
                             ("fonts", "#b07aa1"), ("JSON", "#9c755f"), ("other", _OTHER)]
    )  # fmt: skip
    rows = ["<h2>Treemap</h2>", '<div class="switch">']
    for i, m in enumerate(MEASURES):
        checked = " checked" if i == 0 else ""
        rows.append(f'<input type="radio" name="by" id="by-{m}"{checked}><label for="by-{m}">by {m}</label>')
    rows.append(f'<span class="legend">{legend}</span>')
    rows.append('<div class="maps">')
    rows += [f'<div class="map map-{m}">{_treemap(root, m)}</div>' for m in MEASURES]
    rows.append("</div></div>")
    return rows


def _largest_section(report: SizeReport) -> list[str]:
    rows = [
        '<h2>Largest files</h2><table id="largest"><tr><th>logical path</th><th>raw</th><th>br</th>'
        "<th>gzip</th></tr>"
    ]
    for a in report.largest():
        name = html.escape(a.logical_path)
        rows.append(
            f'<tr data-logical="{name}"><td class="name">{name}</td>'
            f"{_bytes(a.raw)}{_bytes(a.br)}{_bytes(a.gzip)}</tr>"
        )
    rows.append("</table>")
    return rows


def _assets_section(report: SizeReport) -> list[str]:
    rows = [
        '<h2>Every file</h2><table id="assets"><tr><th>logical path</th><th>type</th><th>raw</th>'
        "<th>br</th><th>saved</th><th>gzip</th><th>saved</th></tr>"
    ]
    for a in report.assets:
        name = html.escape(a.logical_path)
        rows.append(
            f'<tr data-logical="{name}"><td class="name" title="{html.escape(a.path)}">{name}</td>'
            f"<td>{html.escape(a.media_type)}</td>{_bytes(a.raw)}{_bytes(a.br)}{_saving(a.raw, a.br)}"
            f"{_bytes(a.gzip)}{_saving(a.raw, a.gzip)}</tr>"
        )
    rows.append("</table>")
    return rows


def write_html(report: SizeReport, path: Path) -> Path:
    """Write the page atomically; OutputError naming the file if it cannot be written."""
    write_atomic(path, render_html(report).encode("utf-8"))
    return path


__all__ = [
    "AssetSize",
    "Delta",
    "SizeReport",
    "Totals",
    "deltas",
    "load_previous",
    "render_html",
    "size_report",
    "squarify",
    "table",
    "write_html",
]
