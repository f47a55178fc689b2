"""``{% load assetpipe %}``: the tag library, rendered by Django's template engine through its test Client
(the page tags themselves, hashed URLs, SRI and preloads, are in test_django_storage.py)."""

from __future__ import annotations

from pathlib import Path

from assetpipe.manifest import Manifest

from .django_project import get, make_project

SOURCES_MODE = {"ASSETPIPE_SERVE_SOURCES": True}


def test_extra_attributes_are_escaped_and_can_remove_a_default(django_project: Path) -> None:
    # A value from the request is escaped; (a literal in the template is the author's HTML, as in Django.)
    manifest = Manifest.load(django_project / "staticfiles" / "manifest.json")
    (page,) = get(django_project, "/tag-attrs/?x=%22%3E%3Cscript%3E")
    assert page["body"] == (
        f'<link rel="stylesheet" href="{manifest.url("css/app.css")}" crossorigin="anonymous"'
        ' media="print" data-x="&#34;&gt;&lt;script&gt;">'
    )


def test_an_unknown_path_raises_with_close_matches(django_project: Path) -> None:
    (page,) = get(django_project, "/tag-unknown/")
    assert page["error"] == (
        "MissingAsset: unknown asset 'css/ap.css' (did you mean 'css/app.css', 'admin/css/base.css'?)"
    )


def test_not_strict_an_unknown_path_gets_the_unhashed_url_and_no_integrity(django_project: Path) -> None:
    (page,) = get(django_project, "/tag-unknown/", settings={"ASSETPIPE_STRICT": False})
    assert page["body"] == (
        '/static/css/ap.css||<link rel="stylesheet" href="/static/css/ap.css" crossorigin="anonymous">'
    )


def test_serving_sources_gives_source_urls_without_integrity_or_preloads(django_project: Path) -> None:
    page, jinja_page = get(django_project, "/", "/jinja/", settings=SOURCES_MODE)
    for html in (page["body"], jinja_page["body"]):
        assert '<link rel="stylesheet" href="/static/css/app.css" crossorigin="anonymous">' in html
        assert '<script type="module" src="/static/js/main.js" crossorigin="anonymous"' in html
        assert '<img src="/static/img/logo.svg" alt="logo">' in html
        assert "integrity=" not in html.replace('name="integrity"', "")
        assert "modulepreload" not in html


def test_serving_sources_still_refuses_a_path_no_finder_has(django_project: Path) -> None:
    (page,) = get(django_project, "/tag-unknown/", settings=SOURCES_MODE)
    assert page["error"] == "MissingAsset: unknown asset 'css/ap.css'"


def test_without_collectstatic_strict_names_the_command_and_lenient_gives_unhashed_urls(
    tmp_path: Path,
) -> None:
    root = make_project(tmp_path)
    (strict,) = get(root, "/")
    manifest = root / "staticfiles" / "manifest.json"
    assert strict["error"] == (
        f"ManifestError: {manifest}: manifest not found "
        "(run 'manage.py collectstatic' first, or set ASSETPIPE_STRICT = False in tests)"
    )
    (lenient,) = get(root, "/", settings={"ASSETPIPE_STRICT": False})
    assert '<link rel="stylesheet" href="/static/css/app.css" crossorigin="anonymous">' in lenient["body"]
    assert '<link rel="icon" href="/static/img/logo.svg">' in lenient["body"]  # {% static %}


def test_live_reload_tag_loads_the_watch_client_only_in_debug(django_project: Path) -> None:
    (off,) = get(django_project, "/live-reload/")
    (on,) = get(django_project, "/live-reload/", settings={"DEBUG": True, "ASSETPIPE_LIVE_RELOAD_PORT": 35800})
    (forced_off,) = get(django_project, "/live-reload/", settings={"DEBUG": True, "ASSETPIPE_LIVE_RELOAD": False})
    assert off["body"] == "[]" and forced_off["body"] == "[]"
    assert on["body"] == '[<script src="http://127.0.0.1:35800/assetpipe-live-reload.js" async></script>]'
