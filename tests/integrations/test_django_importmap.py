"""``{% importmap_tag %}``: Django's template engine writes exactly what the Jinja helper writes over the
same build (a collectstatic with an import map in ASSETPIPE_BUILD), safe inside the script element with a
hostile specifier and file name; ``{% asset_tag %}`` preloads through bare specifiers; source URLs under
DEBUG; nothing or a clear error without a manifest."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from jinja2 import Environment

from assetpipe import jinja
from assetpipe.manifest import Manifest

from .django_project import collectstatic, get, make_project

HOSTILE_KEY = "x</script><!--<script>"
HOSTILE_FILE = 'vendor/odd/a"b<c>&.js'
SOURCES = {
    "js/app.js": 'import { greet } from "greet";\nimport "odd";\ndocument.title = greet("x");\n',
    "vendor/greet/index.js": 'import { shout } from "./shout.js";\nexport const greet = (n) => shout(n);\n',
    "vendor/greet/shout.js": "export const shout = (s) => s.toUpperCase();\n",
    HOSTILE_FILE: "export const odd = 1;\n",
}
BUILD = {
    "compress": False,
    "importmap": {
        "greet": "vendor/greet/index.js",
        "odd": HOSTILE_FILE,
        HOSTILE_KEY: "vendor/greet/shout.js",
    },
    "importmap_scopes": {"vendor/greet/": {"odd": "vendor/greet/shout.js"}},
}
SETTINGS = {"ASSETPIPE_BUILD": BUILD}
SOURCES_MODE = {**SETTINGS, "ASSETPIPE_SERVE_SOURCES": True}
OPEN = '<script type="importmap" nonce="n0">'


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(tmp_path_factory.mktemp("importmap"), SOURCES)
    collectstatic(root, SETTINGS)
    return root


class Scripts(HTMLParser):
    """The text of each <script> element, as a browser's tokenizer splits the page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.texts: list[str] = []
        self._inside = False

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self._inside = tag == "script"
        if self._inside:
            self.texts.append("")

    def handle_endtag(self, tag: str) -> None:
        self._inside = False

    def handle_data(self, data: str) -> None:
        if self._inside:
            self.texts[-1] += data


def importmap_of(html: str) -> dict[str, Any]:
    """The import map a browser reads from the page: the first script element's text, parsed."""
    assert html.startswith(OPEN)
    parser = Scripts()
    parser.feed(html)
    text = parser.texts[0]
    assert "<" not in text and ">" not in text and "&" not in text
    data: dict[str, Any] = json.loads(text)
    return data


def test_the_django_tag_writes_what_the_jinja_helper_writes_over_the_same_build(project: Path) -> None:
    django_page, jinja_backend_page = get(project, "/importmap/", "/jinja-importmap/", settings=SETTINGS)
    env = Environment()
    jinja.install(env, project / "staticfiles" / "manifest.json")
    jinja_page = env.from_string('{{ importmap_tag(nonce="n0") }}\n{{ asset_tag("js/app.js", nonce="n0") }}')
    assert django_page["body"] == jinja_backend_page["body"] == jinja_page.render()


def test_the_map_survives_a_hostile_specifier_and_file_name_and_is_the_manifests(project: Path) -> None:
    manifest = Manifest.load(project / "staticfiles" / "manifest.json")
    assert manifest.importmap is not None
    (page,) = get(project, "/importmap/", settings=SETTINGS)
    data = importmap_of(page["body"])
    assert data == {
        "imports": dict(manifest.importmap.imports),
        "scopes": {k: dict(v) for k, v in manifest.importmap.scopes.items()},
        "integrity": dict(manifest.importmap.integrity),
    }
    assert data["imports"][HOSTILE_KEY] == manifest.url("vendor/greet/shout.js")
    odd = quote(manifest.url(HOSTILE_FILE), safe="/&")  # the map's URLs are percent-encoded
    assert data["imports"]["odd"] == odd
    assert data["integrity"][odd] == manifest.entry(HOSTILE_FILE).integrity


def test_asset_tag_preloads_the_modules_reached_through_bare_specifiers(project: Path) -> None:
    manifest = Manifest.load(project / "staticfiles" / "manifest.json")
    (page,) = get(project, "/importmap/", settings=SETTINGS)
    tags = page["body"].split("\n")[1:]
    preloaded = [t for t in tags if t.startswith('<link rel="modulepreload"')]
    for logical in ("vendor/greet/index.js", "vendor/greet/shout.js"):
        entry = manifest.entry(logical)
        assert (
            f'<link rel="modulepreload" href="{manifest.url(logical)}" integrity="{entry.integrity}"'
            ' crossorigin="anonymous" nonce="n0">'
        ) in preloaded
    assert tags[-1].startswith(f'<script type="module" src="{manifest.url("js/app.js")}"')


def test_serving_sources_the_map_names_source_urls_without_integrity_and_they_are_served(
    project: Path,
) -> None:
    (page,) = get(project, "/importmap/", settings={**SOURCES_MODE, "DEBUG": True})
    data = importmap_of(page["body"])
    odd = "/static/vendor/odd/a%22b%3Cc%3E%26.js"
    assert data == {
        "imports": {
            "greet": "/static/vendor/greet/index.js",
            "odd": odd,
            HOSTILE_KEY: "/static/vendor/greet/shout.js",
        },
        "scopes": {"/static/vendor/greet/": {"odd": "/static/vendor/greet/shout.js"}},
        "integrity": {},
    }
    assert "modulepreload" not in page["body"]
    served = get(project, *data["imports"].values(), settings={**SOURCES_MODE, "DEBUG": True})
    assert [r["status"] for r in served] == [200, 200, 200]


def test_without_a_map_the_tag_writes_nothing(django_project: Path) -> None:
    (built,) = get(django_project, "/importmap-only/")
    (sources,) = get(django_project, "/importmap-only/", settings={"ASSETPIPE_SERVE_SOURCES": True})
    assert built["body"] == sources["body"] == "[]"


def test_without_a_manifest_it_is_an_error_naming_collectstatic_unless_not_strict(tmp_path: Path) -> None:
    root = make_project(tmp_path, SOURCES)
    (strict,) = get(root, "/importmap-only/", settings=SETTINGS)
    assert strict["error"].startswith("ManifestError: ")
    assert "manage.py collectstatic" in strict["error"] and "manifest.json" in strict["error"]
    (lenient,) = get(root, "/importmap-only/", settings={**SETTINGS, "ASSETPIPE_STRICT": False})
    assert lenient["body"] == "[]"


def test_packages_are_read_from_node_modules_beside_static_root(tmp_path: Path) -> None:
    root = make_project(tmp_path, {"js/app.js": 'import { greet } from "greet";\n'})
    package = {"name": "greet", "version": "1.0.0", "type": "module", "exports": "./index.js"}
    (root / "node_modules" / "greet").mkdir(parents=True)
    (root / "node_modules" / "greet" / "package.json").write_text(json.dumps(package))
    (root / "node_modules" / "greet" / "index.js").write_text("export const greet = 1;\n")
    collectstatic(root, {"ASSETPIPE_BUILD": {"compress": False, "importmap_packages": ["greet"]}})
    manifest = Manifest.load(root / "staticfiles" / "manifest.json")
    assert manifest.importmap is not None
    assert manifest.importmap.imports == {"greet": manifest.url("vendor/greet/index.js")}
