"""The Jinja2 helper: asset(), asset_integrity(), asset_tag() with SRI and modulepreload."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

import pytest
from jinja2 import Environment
from markupsafe import Markup

from assetpipe.errors import AssetpipeError, ManifestError, UnknownAsset
from assetpipe.jinja import AssetPipeExtension, install
from assetpipe.manifest import Manifest, ManifestEntry

TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/vnd.microsoft.icon",
    ".woff2": "font/woff2",
    ".json": "application/json",
}


def write_dist(
    out: Path,
    files: Mapping[str, bytes],
    imports: Mapping[str, tuple[str, ...]] | None = None,
    base_url: str = "/static/",
) -> Path:
    """Write each file under its hashed path plus a manifest.json, as a build would."""
    assets = {}
    for logical, data in files.items():
        digest = hashlib.sha384(data)
        stem, ext = os.path.splitext(logical)
        hashed = f"{stem}.{digest.hexdigest()[:12]}{ext}"
        (out / hashed).parent.mkdir(parents=True, exist_ok=True)
        (out / hashed).write_bytes(data)
        assets[logical] = ManifestEntry(
            path=hashed,
            hash=digest.hexdigest()[:12],
            integrity=sri(data),
            size=len(data),
            content_type=TYPES[ext],
            imports=tuple(sorted((imports or {}).get(logical, ()))),
        )
    out.mkdir(parents=True, exist_ok=True)
    return Manifest(base_url=base_url, assets=assets).write(out)


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def url(logical: str, data: bytes, base: str = "/static/") -> str:
    stem, ext = os.path.splitext(logical)
    return f"{base}{stem}.{hashlib.sha384(data).hexdigest()[:12]}{ext}"


FILES = {
    "css/app.css": b"body{}",
    "js/main.js": b"import './a.js'; import './b.js';",
    "js/a.js": b"import './c.js';",
    "js/b.js": b"import './c.js';",
    "js/c.js": b"export {};",
    "img/logo.svg": b"<svg/>",
    "favicon.ico": b"\x00\x00\x01\x00",
    "fonts/inter.woff2": b"wOF2",
    "data/x.json": b"{}",
}
IMPORTS = {"js/main.js": ("js/a.js", "js/b.js"), "js/a.js": ("js/c.js",), "js/b.js": ("js/c.js",)}


@pytest.fixture(autouse=True)
def _no_overrides_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASSETPIPE_BASE_URL", raising=False)
    monkeypatch.delenv("ASSETPIPE_MANIFEST", raising=False)


@pytest.fixture
def manifest_path(tmp_path: Path) -> Path:
    return write_dist(tmp_path / "dist", FILES, IMPORTS)


@pytest.fixture
def env(manifest_path: Path) -> Environment:
    env = Environment(autoescape=True)
    install(env, manifest_path)
    return env


def render(env: Environment, source: str) -> str:
    return env.from_string(source).render()


def test_install_adds_the_three_globals(env: Environment) -> None:
    assert {"asset", "asset_integrity", "asset_tag"} <= set(env.globals)


def test_asset_renders_the_hashed_url(env: Environment) -> None:
    html = render(env, "<img src=\"{{ asset('img/logo.svg') }}\">")
    assert html == f'<img src="{url("img/logo.svg", b"<svg/>")}">'


def test_asset_integrity_renders_the_sri_value(env: Environment) -> None:
    assert render(env, "{{ asset_integrity('css/app.css') }}") == sri(b"body{}")


def test_stylesheet_tag_has_integrity_and_anonymous_crossorigin(env: Environment) -> None:
    html = render(env, "{{ asset_tag('css/app.css') }}")
    assert html == (
        f'<link rel="stylesheet" href="{url("css/app.css", b"body{}")}" '
        f'integrity="{sri(b"body{}")}" crossorigin="anonymous">'
    )


def test_module_tag_preloads_every_transitive_import_once_nearest_first(env: Environment) -> None:
    html = render(env, "{{ asset_tag('js/main.js') }}")
    preloads = [
        f'<link rel="modulepreload" href="{url(name, FILES[name])}" '
        f'integrity="{sri(FILES[name])}" crossorigin="anonymous">'
        for name in ("js/a.js", "js/b.js", "js/c.js")
    ]
    script = (
        f'<script type="module" src="{url("js/main.js", FILES["js/main.js"])}" '
        f'integrity="{sri(FILES["js/main.js"])}" crossorigin="anonymous"></script>'
    )
    assert html.split("\n") == [*preloads, script]


def test_module_without_imports_is_a_lone_script_tag(env: Environment) -> None:
    html = render(env, "{{ asset_tag('js/c.js') }}")
    assert html.startswith('<script type="module"')
    assert "modulepreload" not in html


def test_an_import_cycle_terminates_and_never_preloads_the_entry(tmp_path: Path) -> None:
    files = {"js/main.js": b"m", "js/a.js": b"a", "js/b.js": b"b"}
    cycle = {"js/main.js": ("js/a.js",), "js/a.js": ("js/b.js",), "js/b.js": ("js/a.js", "js/main.js")}
    env = Environment()
    install(env, write_dist(tmp_path, files, cycle), base_url="/s/")
    html = render(env, "{{ asset_tag('js/main.js') }}")
    assert html.count("modulepreload") == 2
    assert f'href="{url("js/main.js", b"m", "/s/")}"' not in html
    assert html.count(url("js/main.js", b"m", "/s/")) == 1


def test_an_import_missing_from_the_manifest_is_a_manifest_error(tmp_path: Path) -> None:
    env = Environment()
    install(env, write_dist(tmp_path, {"js/main.js": b"m"}, {"js/main.js": ("js/gone.js",)}))
    with pytest.raises(ManifestError, match=r"'js/main\.js' imports 'js/gone\.js'"):
        render(env, "{{ asset_tag('js/main.js') }}")


def test_extra_attributes_pass_through_escaped(env: Environment) -> None:
    html = render(env, """{{ asset_tag('css/app.css', media='print and "x"<y>') }}""")
    assert html.endswith(' crossorigin="anonymous" media="print and &#34;x&#34;&lt;y&gt;">')


def test_true_gives_a_bare_attribute_and_false_or_none_omit_it(env: Environment) -> None:
    html = render(env, "{{ asset_tag('js/c.js', defer=True, integrity=False, crossorigin=None) }}")
    assert html == f'<script type="module" src="{url("js/c.js", FILES["js/c.js"])}" defer></script>'


def test_underscores_become_hyphens_and_a_trailing_one_is_dropped(env: Environment) -> None:
    html = render(env, "{{ asset_tag('css/app.css', data_turbo_track='reload', class_='x') }}")
    assert ' data-turbo-track="reload" class="x">' in html


def test_attribute_names_from_a_dict_pass_through(env: Environment) -> None:
    html = render(env, "{{ asset_tag('css/app.css', **{'data-x': 1}) }}")
    assert html.endswith(' data-x="1">')


def test_an_attribute_name_that_could_break_the_tag_is_refused(env: Environment) -> None:
    with pytest.raises(ValueError, match="not a valid HTML attribute name"):
        render(env, """{{ asset_tag('css/app.css', **{'x onload=alert(1) y': 1}) }}""")


def test_overriding_crossorigin_applies_to_the_module_preloads_too(env: Environment) -> None:
    html = render(env, "{{ asset_tag('js/main.js', crossorigin='use-credentials') }}")
    assert html.count('crossorigin="use-credentials"') == 4
    assert "anonymous" not in html


def test_a_csp_nonce_is_put_on_the_script_and_its_preloads(env: Environment) -> None:
    html = render(env, "{{ asset_tag('js/main.js', nonce='abc') }}")
    assert html.count('nonce="abc"') == 4


def test_a_classic_script_gets_no_type_and_no_preloads(env: Environment) -> None:
    html = render(env, "{{ asset_tag('js/main.js', type=False) }}")
    assert html.startswith("<script src=")
    assert "modulepreload" not in html


def test_an_image_becomes_an_img_without_integrity(env: Environment) -> None:
    html = render(env, "{{ asset_tag('img/logo.svg', alt='Logo', width=120) }}")
    assert html == f'<img src="{url("img/logo.svg", b"<svg/>")}" alt="Logo" width="120">'


def test_an_ico_file_becomes_a_link_rel_icon(env: Environment) -> None:
    html = render(env, "{{ asset_tag('favicon.ico') }}")
    assert html == f'<link rel="icon" href="{url("favicon.ico", FILES["favicon.ico"])}">'


def test_a_font_becomes_a_crossorigin_preload(env: Environment) -> None:
    html = render(env, "{{ asset_tag('fonts/inter.woff2') }}")
    href = url("fonts/inter.woff2", b"wOF2")
    assert html == f'<link rel="preload" href="{href}" as="font" type="font/woff2" crossorigin="anonymous">'


def test_a_type_without_an_obvious_tag_is_a_clear_error(env: Environment) -> None:
    with pytest.raises(AssetpipeError, match=r"no tag for 'data/x\.json' \(application/json\)") as info:
        render(env, "{{ asset_tag('data/x.json') }}")
    assert "use asset()" in str(info.value)


def test_an_unknown_asset_in_a_template_names_close_matches(env: Environment) -> None:
    with pytest.raises(UnknownAsset, match=r"did you mean 'css/app\.css'\?"):
        render(env, "{{ asset_tag('css/ap.css') }}")


def test_asset_tag_returns_markup_that_autoescape_leaves_alone(env: Environment) -> None:
    tag = env.globals["asset_tag"]("css/app.css")  # type: ignore[operator]
    assert isinstance(tag, Markup)
    assert render(env, "{{ asset_tag('css/app.css') }}") == str(tag)


def test_install_takes_a_base_url_override(manifest_path: Path) -> None:
    env = Environment()
    install(env, manifest_path, base_url="https://cdn.example.com/")
    assert render(env, "{{ asset('css/app.css') }}") == url(
        "css/app.css", b"body{}", "https://cdn.example.com/"
    )


def test_the_base_url_environment_variable_reaches_the_tags(
    manifest_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSETPIPE_BASE_URL", "https://cdn.example.com/s/")
    env = Environment()
    install(env, manifest_path)
    assert 'href="https://cdn.example.com/s/css/app.' in render(env, "{{ asset_tag('css/app.css') }}")


def test_a_cached_tag_is_replaced_after_an_auto_reload(tmp_path: Path) -> None:
    path = write_dist(tmp_path, {"css/app.css": b"a{}"})
    env = Environment()
    install(env, path, auto_reload=True)
    assert url("css/app.css", b"a{}") in render(env, "{{ asset_tag('css/app.css') }}")
    write_dist(tmp_path, {"css/app.css": b"b{}"})
    html = render(env, "{{ asset_tag('css/app.css') }}")
    assert url("css/app.css", b"b{}") in html
    assert sri(b"b{}") in html


def test_install_fails_at_once_when_the_manifest_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="manifest not found"):
        install(Environment(), tmp_path / "manifest.json")


def test_the_extension_reads_the_manifest_named_on_the_environment(manifest_path: Path) -> None:
    env = Environment(extensions=[AssetPipeExtension])
    env.assetpipe_manifest = str(manifest_path)  # type: ignore[attr-defined]
    env.assetpipe_base_url = "/cdn/"  # type: ignore[attr-defined]
    assert render(env, "{{ asset('css/app.css') }}") == url("css/app.css", b"body{}", "/cdn/")
    assert render(env, "{{ asset_integrity('css/app.css') }}") == sri(b"body{}")
    assert render(env, "{{ asset_tag('js/c.js') }}").startswith('<script type="module" src="/cdn/')


def test_the_extension_falls_back_to_the_manifest_environment_variable(
    manifest_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSETPIPE_MANIFEST", str(manifest_path))
    env = Environment(extensions=["assetpipe.jinja.AssetPipeExtension"])
    assert render(env, "{{ asset('css/app.css') }}") == url("css/app.css", b"body{}")


def test_attributes_given_once_do_not_stick_to_later_calls(env: Environment) -> None:
    plain = render(env, "{{ asset_tag('js/main.js') }}")
    with_nonce = render(env, "{{ asset_tag('js/main.js', nonce='n1') }}")
    assert with_nonce != plain
    assert render(env, "{{ asset_tag('js/main.js') }}") == plain
    assert render(env, "{{ asset_tag('js/main.js', nonce='n2') }}") == with_nonce.replace("n1", "n2")


# -- live_reload_tag -------------------------------------------------------------------------------------


def test_live_reload_tag_renders_nothing_unless_live_reload_is_on(env: Environment) -> None:
    assert render(env, "[{{ live_reload_tag() }}]") == "[]"


def test_live_reload_tag_loads_the_watchers_client_script_on_its_default_port(manifest_path: Path) -> None:
    env = Environment(autoescape=True)
    install(env, manifest_path, live_reload=True)
    assert render(env, "{{ live_reload_tag() }}") == (
        '<script src="http://127.0.0.1:35729/assetpipe-live-reload.js" async></script>'
    )


def test_live_reload_tag_uses_the_port_given(manifest_path: Path) -> None:
    env = Environment(autoescape=True)
    install(env, manifest_path, live_reload=True, live_reload_port=4000)
    assert "http://127.0.0.1:4000/assetpipe-live-reload.js" in render(env, "{{ live_reload_tag() }}")


@pytest.mark.parametrize("port", [0, 65536, -1, True, "4000"])
def test_a_live_reload_port_out_of_range_is_an_error(manifest_path: Path, port: object) -> None:
    with pytest.raises(AssetpipeError, match="live reload port must be 1-65535"):
        install(Environment(), manifest_path, live_reload=True, live_reload_port=port)  # type: ignore[arg-type]


def test_the_extension_renders_the_live_reload_tag_when_the_environment_turns_it_on(manifest_path: Path) -> None:
    env = Environment(extensions=[AssetPipeExtension], autoescape=True)
    env.assetpipe_manifest = str(manifest_path)  # type: ignore[attr-defined]
    assert render(env, "[{{ live_reload_tag() }}]") == "[]"
    on = Environment(extensions=[AssetPipeExtension], autoescape=True)
    on.assetpipe_manifest = str(manifest_path)  # type: ignore[attr-defined]
    on.assetpipe_live_reload = True  # type: ignore[attr-defined]
    on.assetpipe_live_reload_port = 4001  # type: ignore[attr-defined]
    assert ":4001/assetpipe-live-reload.js" in render(on, "{{ live_reload_tag() }}")
# -- importmap_tag --------------------------------------------------------------------------------------
def importmap_env(tmp_path: Path, base_url: str | None = None) -> Environment:
    from assetpipe.manifest import ImportMapData

    hostile = "x</script><script>alert(1)</script>&<!--"
    manifest = Manifest(
        base_url="/static/",
        assets={"vendor/lit/index.js": ManifestEntry("vendor/lit/index.0123456789ab.js", "0123456789ab",
                                                     "sha384-" + "A" * 64, 10, "text/javascript")},
        importmap=ImportMapData(
            imports={"lit": "/static/vendor/lit/index.0123456789ab.js", hostile: "/static/x.js"},
            scopes={"/static/vendor/old/": {"lit": "/static/vendor/old/lit.js"}},
            integrity={"/static/vendor/lit/index.0123456789ab.js": "sha384-" + "A" * 64},
        ),
    )
    manifest.write(tmp_path)
    env = Environment(autoescape=True)
    install(env, tmp_path / "manifest.json", base_url=base_url)
    return env


def test_importmap_tag_writes_the_map_as_json_that_cannot_close_the_script_element(tmp_path: Path) -> None:
    import json

    html = importmap_env(tmp_path).from_string("{{ importmap_tag() }}").render()
    assert html.startswith('<script type="importmap">') and html.endswith("</script>")
    body = html[len('<script type="importmap">') : -len("</script>")]
    assert "<" not in body and ">" not in body and "&" not in body
    data = json.loads(body)
    assert data["imports"]["x</script><script>alert(1)</script>&<!--"] == "/static/x.js"
    assert data["imports"]["lit"] == "/static/vendor/lit/index.0123456789ab.js"
    assert data["scopes"] == {"/static/vendor/old/": {"lit": "/static/vendor/old/lit.js"}}
    assert data["integrity"] == {"/static/vendor/lit/index.0123456789ab.js": "sha384-" + "A" * 64}


def test_importmap_tag_moves_every_url_to_an_overriding_base_url_and_takes_a_nonce(tmp_path: Path) -> None:
    env = importmap_env(tmp_path, base_url="https://cdn.example.com/s/")
    html = env.from_string('{{ importmap_tag(nonce="n0") }}').render()
    assert html.startswith('<script type="importmap" nonce="n0">')
    assert '"lit":"https://cdn.example.com/s/vendor/lit/index.0123456789ab.js"' in html
    assert '"https://cdn.example.com/s/vendor/old/":' in html
    assert "/static/" not in html


def test_importmap_tag_is_empty_when_the_build_has_no_map(env: Environment) -> None:
    assert env.from_string("{{ importmap_tag() }}").render() == ""
