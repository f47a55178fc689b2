"""Flask: AssetPipe(app) with the Flask test client, serving the built files from dist/ at /static/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask, render_template

from assetpipe.errors import ManifestError, UnknownAsset
from assetpipe.integrations.flask import AssetPipe
from assetpipe.manifest import Manifest

from .dist import build_site, sri


def make_app(root: Path, **config: object) -> Flask:
    app = Flask("site", root_path=str(root), static_folder="dist", static_url_path="/static")
    app.config.update(config)

    @app.route("/")
    def page() -> str:
        return render_template("page.html")

    return app


def test_every_template_gets_the_tags_and_urls(site: Path, manifest: Manifest) -> None:
    app = make_app(site)
    AssetPipe(app)
    html = app.test_client().get("/").get_data(as_text=True)
    assert f'<link rel="stylesheet" href="{manifest.url("css/app.css")}"' in html
    assert html.count('<link rel="modulepreload"') == 3
    assert f'<script type="module" src="{manifest.url("js/main.js")}"' in html
    assert f'<img src="{manifest.url("img/logo.svg")}" alt="logo">' in html


def test_every_url_in_the_page_serves_bytes_matching_its_integrity(site: Path) -> None:
    app = make_app(site)
    AssetPipe(app)
    client = app.test_client()
    html = client.get("/").get_data(as_text=True)
    pairs = re.findall(r'(?:href|src)="([^"]+)" integrity="([^"]+)"', html)
    assert len(pairs) == 5
    for url, integrity in pairs:
        assert sri(client.get(url).get_data()) == integrity, url


def test_a_relative_manifest_setting_is_anchored_at_the_app_root(site: Path) -> None:
    other = build_site(site, {"css/app.css": "p {}\n"}, output="build/out")
    app = make_app(site, ASSETPIPE_MANIFEST="build/out/manifest.json")
    AssetPipe(app)
    with app.app_context():
        assert AssetPipe.helper().asset("css/app.css") == other.url("css/app.css")


def test_base_url_setting_overrides_the_manifest(site: Path) -> None:
    app = make_app(site, ASSETPIPE_BASE_URL="https://cdn.example.com/static/")
    AssetPipe(app)
    html = app.test_client().get("/").get_data(as_text=True)
    assert 'href="https://cdn.example.com/static/css/app.' in html
    assert 'href="/static/' not in html


def test_init_app_serves_several_apps_from_one_extension(site: Path, manifest: Manifest) -> None:
    other = build_site(site / "other", {"css/app.css": "p {}\n"})
    assets = AssetPipe()
    one, two = make_app(site), make_app(site, ASSETPIPE_MANIFEST="other/dist/manifest.json")
    assets.init_app(one)
    assets.init_app(two)
    with one.app_context():
        assert assets.url("css/app.css") == manifest.url("css/app.css")
    with two.app_context():
        assert assets.url("css/app.css") == other.url("css/app.css") != manifest.url("css/app.css")
        assert assets.tag("css/app.css").startswith('<link rel="stylesheet"')


def test_auto_reload_shows_a_rebuild_without_a_restart(site: Path, manifest: Manifest) -> None:
    app = make_app(site, ASSETPIPE_AUTO_RELOAD=True)
    AssetPipe(app)
    client = app.test_client()
    assert manifest.url("js/c.js") in client.get("/").get_data(as_text=True)
    rebuilt = build_site(site, {"js/c.js": "export const c = 4;\n"})
    html = client.get("/").get_data(as_text=True)
    # c.js changed, so did b.js and main.js (their import URLs changed): all three new in the page.
    for name in ("js/c.js", "js/b.js", "js/main.js"):
        assert rebuilt.url(name) != manifest.url(name)
        assert rebuilt.url(name) in html


def test_auto_reload_follows_debug_when_not_set(site: Path) -> None:
    debug_app, prod_app = make_app(site), make_app(site)
    debug_app.debug = True
    assert AssetPipe().init_app(debug_app).reader.auto_reload is True
    assert AssetPipe().init_app(prod_app).reader.auto_reload is False


def test_a_missing_manifest_fails_at_init_naming_its_path(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    with pytest.raises(ManifestError) as info:
        AssetPipe(app)
    assert info.value.path == str(tmp_path / "dist" / "manifest.json")


def test_an_unknown_asset_fails_the_request_with_its_name(site: Path) -> None:
    (site / "templates" / "bad.html").write_text("{{ asset('css/ap.css') }}", encoding="utf-8")
    app = make_app(site)
    app.add_url_rule("/bad", "bad", lambda: render_template("bad.html"))
    AssetPipe(app)
    app.testing = True  # let the exception reach the test client instead of becoming a 500 page
    with pytest.raises(UnknownAsset, match=r"unknown asset 'css/ap\.css' \(did you mean 'css/app\.css'\?\)"):
        app.test_client().get("/bad")


# -- url_for('static', ...) through the manifest ----------------------------------------------------------
URL_FOR_PAGE = """<link rel="stylesheet" href="{{ url_for('static', filename='css/app.css') }}">
<script type="module" src="{{ url_for('static', filename='js/main.js') }}"></script>
"""


def test_url_for_static_gives_the_hashed_url_and_it_serves_the_built_bytes(
    site: Path, manifest: Manifest
) -> None:
    (site / "templates" / "url_for.html").write_text(URL_FOR_PAGE, encoding="utf-8")
    app = make_app(site)
    app.add_url_rule("/url-for", "url_for_page", lambda: render_template("url_for.html"))
    AssetPipe(app)
    client = app.test_client()
    html = client.get("/url-for").get_data(as_text=True)
    assert f'href="{manifest.url("css/app.css")}"' in html
    assert f'src="{manifest.url("js/main.js")}"' in html
    served = client.get(manifest.url("css/app.css")).get_data()
    assert sri(served) == manifest.entry("css/app.css").integrity


def test_url_for_a_blueprint_static_uses_that_folders_own_manifest(site: Path, manifest: Manifest) -> None:
    from flask import Blueprint, url_for

    shop = build_site(site / "shop", {"css/app.css": "main { color: red }\n"})
    plain = site / "plain_static"
    plain.mkdir()
    app = make_app(site)
    app.register_blueprint(
        Blueprint("shop", __name__, static_folder=str(site / "shop" / "dist"), static_url_path="/shop-static")
    )
    app.register_blueprint(
        Blueprint("plain", __name__, static_folder=str(plain), static_url_path="/plain-static")
    )
    AssetPipe(app)
    with app.test_request_context():
        assert (
            url_for("shop.static", filename="css/app.css") == "/shop-static/" + shop.entry("css/app.css").path
        )
        assert url_for("static", filename="css/app.css") == manifest.url("css/app.css")
        # No manifest.json in that folder: not a build's output, Flask's own URL.
        assert url_for("plain.static", filename="css/app.css") == "/plain-static/css/app.css"
    assert (
        app.test_client().get(url_for_shop := "/shop-static/" + shop.entry("css/app.css").path).status_code
        == 200
    ), url_for_shop


def test_url_for_a_path_the_manifest_lacks_is_an_error_except_in_debug(site: Path) -> None:
    from flask import url_for

    app = make_app(site)
    AssetPipe(app)
    with app.test_request_context(), pytest.raises(UnknownAsset, match=r"did you mean 'css/app\.css'"):
        url_for("static", filename="css/ap.css")
    app.debug = True
    with app.test_request_context():
        assert url_for("static", filename="css/ap.css") == "/static/css/ap.css"


def test_live_reload_tag_loads_the_watch_client_only_when_the_app_debugs(site: Path) -> None:
    from flask import render_template_string

    for debug, expected in ((False, "[]"), (True, '[<script src="http://127.0.0.1:35729/assetpipe-live-reload.js" async></script>]')):
        app = make_app(site)
        app.debug = debug
        AssetPipe(app)
        with app.test_request_context():
            assert render_template_string("[{{ live_reload_tag() }}]") == expected
