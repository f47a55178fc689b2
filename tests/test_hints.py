"""Preload hints: the Link header value for a page's critical assets, parsed back (RFC 8288) and checked
against the manifest of a real build and against the tags asset_tag writes."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest
from jinja2 import Environment
from markupsafe import escape

from assetpipe.config import Config
from assetpipe.errors import AssetpipeError, ManifestError, UnknownAsset
from assetpipe.hints import hints, link_header, module_closure
from assetpipe.jinja import AssetPipeExtension, install
from assetpipe.manifest import Manifest
from assetpipe.pipeline import build
from assetpipe.reader import ManifestReader

FONT = b"wOF2" + bytes(range(256)) * 2
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
SITE = {
    "css/app.css": '@import "base.css";\nbody { background: url(../img/bg.png); }\n'
    '@font-face { font-family: I; src: url(../fonts/inter.woff2) format("woff2"); }\n',
    "css/base.css": "html { color: black; }\n",
    "js/main.js": 'import { a } from "./lib/a.js";\nimport("./lazy.js");\nconsole.log(a);\n',
    # c.js is imported by a.js and by b.js: listed once, nearest first.
    "js/lib/a.js": 'import { b } from "./b.js";\nimport { c } from "./c.js";\nexport const a = b + c;\n',
    "js/lib/b.js": 'import { c } from "./c.js";\nexport const b = c;\n',
    "js/lib/c.js": "export const c = 1;\n",
    "js/lazy.js": "export default 1;\n",
    "js/other.js": 'import { c } from "./lib/c.js";\nconsole.log(c);\n',
    "fonts/inter.woff2": FONT,
    "img/bg.png": PNG,
    "img/logo.svg": '<svg xmlns="http://www.w3.org/2000/svg"/>',
    "data/config.json": "{}",
}

# RFC 8288 section 3 / RFC 9110 tokens and quoted strings.
TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
QUOTED = r'"(?:[^"\\\x00-\x1f\x7f]|\\[\t\x20-\x7e])*"'
LINK_VALUE = re.compile(rf"<([^<>\s]*)>((?:[ \t]*;[ \t]*{TOKEN}[ \t]*(?:=[ \t]*(?:{TOKEN}|{QUOTED}))?)*)")
PARAM = re.compile(rf"[ \t]*;[ \t]*({TOKEN})[ \t]*(?:=[ \t]*({TOKEN}|{QUOTED}))?")


@dataclass(frozen=True, slots=True)
class Link:
    target: str
    params: dict[str, str | None]


def parse_link_header(value: str) -> list[Link]:
    """A strict RFC 8288 parser: every byte of ``value`` must belong to a link-value or a separator."""
    assert value.isascii() and not re.search(r"[\x00-\x1f\x7f]", value), value
    links, pos = [], 0
    while True:
        match = LINK_VALUE.match(value, pos)
        assert match is not None, f"not a link-value at {pos}: {value[pos:]!r}"
        params: dict[str, str | None] = {}
        for name, raw in PARAM.findall(match.group(2)):
            key = name.lower()
            assert key not in params, f"{key} twice in {match.group(0)!r}"
            params[key] = None if raw == "" else re.sub(r"\\(.)", r"\1", raw[1:-1]) if raw[:1] == '"' else raw
        links.append(Link(match.group(1), params))
        pos = match.end()
        if pos == len(value):
            return links
        separator = re.compile(r"[ \t]*,[ \t]*").match(value, pos)
        assert separator is not None, f"expected ',' at {pos}: {value[pos:]!r}"
        pos = separator.end()


@pytest.fixture
def built(make_source: Callable[[dict[str, str | bytes]], Path], tmp_path: Path) -> Path:
    """A real build of SITE (no siblings needed here); returns OUT/manifest.json."""
    config = Config(
        source=make_source(SITE), output=tmp_path / "out", compress=False, cache_dir=tmp_path / "cache"
    )
    build(config)
    return tmp_path / "out" / "manifest.json"


@pytest.fixture
def manifest(built: Path) -> Manifest:
    return Manifest.load(built)


def test_the_header_parses_back_and_matches_the_manifest(manifest: Manifest) -> None:
    links = parse_link_header(link_header(manifest, ["css/app.css", "js/main.js", "fonts/inter.woff2"]))
    expected = ["css/app.css", "js/main.js", "js/lib/a.js", "js/lib/b.js", "js/lib/c.js", "fonts/inter.woff2"]
    assert [unquote(link.target) for link in links] == [manifest.url(name) for name in expected]
    style, *modules, font = links
    assert style.params == {
        "rel": "preload",
        "as": "style",
        "crossorigin": "anonymous",
        "integrity": manifest.integrity("css/app.css"),
    }
    for link, name in zip(modules, expected[1:5], strict=True):
        assert link.params == {
            "rel": "modulepreload",
            "crossorigin": "anonymous",
            "integrity": manifest.integrity(name),
        }
    # Fonts are always fetched in CORS mode; the @font-face request has no integrity, so the hint has none.
    assert font.params == {"rel": "preload", "as": "font", "type": "font/woff2", "crossorigin": "anonymous"}


def test_an_image_is_preloaded_without_cors_like_the_img_that_uses_it(manifest: Manifest) -> None:
    (link,) = parse_link_header(link_header(manifest, ["img/logo.svg"]))
    assert link.params == {"rel": "preload", "as": "image"}


def test_the_module_closure_is_the_one_asset_tag_preloads_in_the_same_order(built: Path) -> None:
    env = Environment(autoescape=True)
    install(env, built)
    html = str(env.globals["asset_tag"]("js/main.js"))
    tag_preloads = re.findall(r'<link rel="modulepreload" href="([^"]+)"', html)
    header_preloads = [
        unquote(link.target)
        for link in parse_link_header(env.globals["asset_link_header"](["js/main.js"]))
        if link.params["rel"] == "modulepreload"
    ]
    assert header_preloads[0] == re.search(r'<script[^>]* src="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    assert header_preloads[1:] == tag_preloads


def test_a_dynamic_import_is_not_preloaded(manifest: Manifest) -> None:
    assert "js/lazy.js" not in module_closure(manifest, "js/main.js")


def test_every_asset_is_named_once_where_it_first_appears(manifest: Manifest) -> None:
    # other.js imports c.js, which main.js's closure already brought; app.css is named twice.
    value = link_header(manifest, ["css/app.css", "js/main.js", "js/other.js", "css/app.css"])
    targets = [unquote(link.target) for link in parse_link_header(value)]
    assert len(targets) == len(set(targets)) == 6
    assert targets[-1] == manifest.url("js/other.js")


def test_the_order_is_the_callers_and_the_output_is_stable(manifest: Manifest) -> None:
    one = link_header(manifest, ["fonts/inter.woff2", "css/base.css"])
    assert one == link_header(manifest, ["fonts/inter.woff2", "css/base.css"])
    assert one != link_header(manifest, ["css/base.css", "fonts/inter.woff2"])
    assert [h.url for h in hints(manifest, ["fonts/inter.woff2", "css/base.css"])] == [
        manifest.url("fonts/inter.woff2"),
        manifest.url("css/base.css"),
    ]


def test_an_empty_list_gives_an_empty_header(manifest: Manifest) -> None:
    assert link_header(manifest, []) == ""


def test_a_cdn_base_url_gives_absolute_hashed_urls(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSETPIPE_BASE_URL", "https://cdn.example.com/assets/")
    reader = ManifestReader(built)
    (link,) = parse_link_header(link_header(reader, ["css/base.css"]))
    assert link.target == "https://cdn.example.com/assets/" + reader.entry("css/base.css").path
    manifest = reader.manifest
    explicit = link_header(manifest, ["css/base.css"], base_url="https://cdn.example.com/assets")
    assert explicit == link_header(reader, ["css/base.css"])


def test_a_snapshot_a_reader_and_a_manifest_give_the_same_header(built: Path) -> None:
    reader = ManifestReader(built)
    names = ["css/app.css", "js/main.js"]
    assert (
        link_header(reader, names)
        == link_header(reader.snapshot(), names)
        == link_header(reader.manifest, names)
    )


def test_an_unknown_asset_names_close_matches(manifest: Manifest) -> None:
    with pytest.raises(UnknownAsset, match=re.escape("did you mean 'css/app.css'")):
        link_header(manifest, ["css/ap.css"])


def test_an_asset_with_no_preload_destination_is_refused(manifest: Manifest) -> None:
    with pytest.raises(AssetpipeError, match=r"no preload hint for 'data/config.json' \(application/json\)"):
        link_header(manifest, ["data/config.json"])


def test_one_string_instead_of_a_list_is_refused(manifest: Manifest) -> None:
    # Iterating "css/app.css" would look up 'c', 's', 's'...
    with pytest.raises(TypeError, match="not one string"):
        link_header(manifest, "css/app.css")


def test_an_import_the_manifest_does_not_list_is_a_manifest_error(manifest: Manifest) -> None:
    from dataclasses import replace

    broken = dict(manifest.assets)
    broken["js/lib/c.js"] = replace(broken["js/lib/c.js"], imports=("js/gone.js",))
    with pytest.raises(ManifestError, match=re.escape("'js/lib/c.js' imports 'js/gone.js'")):
        link_header(replace(manifest, assets=broken), ["js/main.js"])


def test_hostile_file_names_are_percent_encoded_and_parse_back(
    make_source: Callable[[dict[str, str | bytes]], Path], tmp_path: Path
) -> None:
    names = ['css/a b";,<x>.css', "css/ü{`}.css", "css/semi;colon,comma.css", "img/a>b<c.png"]
    source = make_source({name: ("p { }" if name.endswith(".css") else PNG) for name in names})
    build(Config(source=source, output=tmp_path / "out", compress=False, cache_dir=tmp_path / "cache"))
    manifest = Manifest.load(tmp_path / "out" / "manifest.json")
    links = parse_link_header(link_header(manifest, names))
    assert [unquote(link.target) for link in links] == [manifest.url(name) for name in names]
    # Spelled as a browser requests the tag's href: only the URL Standard's path percent-encode set.
    browser = {
        " ": "%20",
        '"': "%22",
        "<": "%3C",
        ">": "%3E",
        "ü": "%C3%BC",
        "{": "%7B",
        "`": "%60",
        "}": "%7D",
    }
    for link, name in zip(links, names, strict=True):
        assert link.target == "".join(browser.get(c, c) for c in manifest.url(name))


def test_a_base_url_is_percent_encoded_but_keeps_its_escapes(manifest: Manifest) -> None:
    value = link_header(manifest, ["css/base.css"], base_url="https://cdn.example.com/a>b c/%7Ex/")
    (link,) = parse_link_header(value)
    assert link.target.startswith("https://cdn.example.com/a%3Eb%20c/%7Ex/css/base.")


def test_a_tag_and_its_hint_name_the_same_url(built: Path) -> None:
    env = Environment(autoescape=True)
    install(env, built)
    href = re.search(r'href="([^"]+)"', str(env.globals["asset_tag"]("css/app.css"))).group(1)  # type: ignore[union-attr]
    (link,) = parse_link_header(env.globals["asset_link_header"](["css/app.css"]))
    assert link.target == href


def test_the_jinja_extension_offers_the_same_global(built: Path) -> None:
    env = Environment(extensions=[AssetPipeExtension], autoescape=True)
    env.assetpipe_manifest = str(built)  # type: ignore[attr-defined]
    rendered = env.from_string("{{ asset_link_header(['css/app.css', 'js/main.js']) }}").render()
    # A plain str, so autoescape applies: the value is meant for a header, not for markup.
    assert rendered == str(escape(link_header(Manifest.load(built), ["css/app.css", "js/main.js"])))


# -- the framework examples of docs/helper.md, run through each framework's own test machinery --------


def test_the_flask_example_sends_the_header_on_html_only(
    built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flask import Flask

    from assetpipe.integrations.flask import AssetPipe

    monkeypatch.delenv("ASSETPIPE_BASE_URL", raising=False)
    app = Flask("site")
    app.config["ASSETPIPE_MANIFEST"] = str(built)
    AssetPipe(app)
    critical = ["css/app.css", "js/main.js"]

    @app.after_request
    def preload(response):  # type: ignore[no-untyped-def]
        if response.mimetype == "text/html":
            response.headers["Link"] = link_header(AssetPipe.helper().reader, critical)
        return response

    app.add_url_rule("/", "index", lambda: "<!doctype html><title>x</title>")
    app.add_url_rule("/data", "data", lambda: {"a": 1})
    client = app.test_client()
    assert client.get("/").headers["Link"] == link_header(Manifest.load(built), critical)
    assert "Link" not in client.get("/data").headers


def test_the_starlette_example_sends_the_header(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Route
    from starlette.templating import Jinja2Templates
    from starlette.testclient import TestClient

    from assetpipe.integrations.starlette import install

    monkeypatch.delenv("ASSETPIPE_BASE_URL", raising=False)
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "index.html").write_text("{{ asset_tag('css/app.css') }}")
    templates = Jinja2Templates(directory=str(tmp_path / "templates"))
    helper = install(templates, built)

    async def homepage(request):  # type: ignore[no-untyped-def]
        link = link_header(helper.reader, ["css/app.css", "js/main.js"])
        return templates.TemplateResponse(request, "index.html", headers={"Link": link})

    response = TestClient(Starlette(routes=[Route("/", homepage)])).get("/")
    assert response.status_code == 200
    assert response.headers["link"] == link_header(Manifest.load(built), ["css/app.css", "js/main.js"])


DJANGO_EXAMPLE = """
import sys
import django
from django.conf import settings

settings.configure(ASSETPIPE_MANIFEST=sys.argv[1], DEFAULT_CHARSET="utf-8")
django.setup()

from django.http import HttpResponse, JsonResponse

from assetpipe.hints import link_header
from assetpipe.reader import ManifestReader


def preload(get_response):
    reader = ManifestReader(settings.ASSETPIPE_MANIFEST, base_url=getattr(settings, "ASSETPIPE_BASE_URL", None))
    def middleware(request):
        response = get_response(request)
        if response.get("Content-Type", "").startswith("text/html"):
            response["Link"] = link_header(reader, ["css/app.css", "js/main.js"])
        return response
    return middleware


print(preload(lambda request: HttpResponse("<!doctype html>"))(None).get("Link"))
print(preload(lambda request: JsonResponse({}))(None).get("Link"))
"""


def test_the_django_middleware_example_sends_the_header(built: Path) -> None:
    import os
    import subprocess
    import sys

    # settings.configure() is once per process: the example runs in its own.
    env = {k: v for k, v in os.environ.items() if k not in ("ASSETPIPE_BASE_URL", "DJANGO_SETTINGS_MODULE")}
    done = subprocess.run(
        [sys.executable, "-c", DJANGO_EXAMPLE, str(built)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    html, json_response = done.stdout.splitlines()
    assert html == link_header(Manifest.load(built), ["css/app.css", "js/main.js"])
    assert json_response == "None"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("integrity", 'sha384-abc"; rel=stylesheet'),
        ("integrity", "sha384-abc\r\nSet-Cookie: a=b"),
        ("integrity", "md5-abc"),
        ("content_type", 'text/css"; x="'),
        ("content_type", "text/css\nX-Evil: 1"),
    ],
)
def test_a_tampered_manifest_value_never_reaches_the_header(
    manifest: Manifest, field: str, value: str
) -> None:
    from dataclasses import replace

    assets = dict(manifest.assets)
    assets["css/base.css"] = replace(assets["css/base.css"], **{field: value})
    with pytest.raises(ManifestError, match=f"invalid {field.replace('_', ' ')}"):
        link_header(replace(manifest, assets=assets), ["css/base.css"])


def test_a_rebuild_gives_the_new_hashed_urls_to_a_reloading_reader(
    make_source: Callable[[dict[str, str | bytes]], Path], tmp_path: Path
) -> None:
    source = make_source({"css/app.css": "a { color: red }"})
    config = Config(source=source, output=tmp_path / "out", compress=False, cache_dir=tmp_path / "cache")
    build(config)
    reader = ManifestReader(tmp_path / "out" / "manifest.json", auto_reload=True)
    first = link_header(reader, ["css/app.css"])
    assert link_header(reader, ["css/app.css"]) is first  # the same list again: the value made before
    (source / "css" / "app.css").write_text("a { color: blue }")
    build(config)
    second = link_header(reader, ["css/app.css"])
    assert second != first
    assert parse_link_header(second)[0].target == reader.url("css/app.css")
