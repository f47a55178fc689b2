"""whitenoise's STOCK middleware serves a collectstatic build of ManifestStorage correctly with no
whitenoise settings at all: hashed files immutable, .br to clients that accept it (with Vary), unhashed
files not immutable, and manifest.json and the build's .assetpipe/ not at all, in both of whitenoise's
modes (start-up scan, autorefresh) and under DEBUG. Real Django test Client, real whitenoise, in a
subprocess per settings (tests/integrations/djangoproject/, docs/helper.md's settings block as it stands)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assetpipe.manifest import Manifest

from .dist import SOURCES, sri
from .django_project import collectstatic, get, make_project
from .docs import blocks

BR = {"Accept-Encoding": "gzip, br"}
IMMUTABLE = "max-age=315360000, public, immutable"
#: What whitenoise must not serve: the manifest and the build's state, spelt as written and encoded.
HIDDEN = (
    "/static/manifest.json",
    "/static/manifest%2Ejson",
    "/static/.assetpipe/lock",
    "/static/%2Eassetpipe/lock",
    "/static/.assetpipe/",
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test project, with robots.txt (published unhashed by default) beside the site's sources."""
    root = make_project(
        tmp_path_factory.mktemp("whitenoise"), {**SOURCES, "robots.txt": "User-agent: *\nDisallow:\n" * 20}
    )
    collectstatic(root)
    return root


def state_file(project: Path) -> str:
    """A file of the build's bookkeeping, as a URL: there is one, so its 404 means something."""
    builds = sorted((project / "staticfiles" / ".assetpipe" / "builds").iterdir())
    assert builds and (project / "staticfiles" / "manifest.json").is_file()
    return "/static/.assetpipe/builds/" + builds[0].name


def test_the_docs_settings_use_the_stock_middleware_and_no_whitenoise_setting() -> None:
    settings = blocks("Django", "python")[0]
    assert '"whitenoise.middleware.WhiteNoiseMiddleware"' in settings
    assert "WHITENOISE_" not in settings


@pytest.mark.parametrize("mode", [{}, {"WHITENOISE_AUTOREFRESH": True}], ids=["scan", "autorefresh"])
def test_stock_whitenoise_serves_hashed_files_immutable_with_brotli_and_hides_the_manifest(
    project: Path, mode: dict[str, Any]
) -> None:
    manifest = Manifest.load(project / "staticfiles" / "manifest.json")
    css = manifest.url("admin/css/base.css")  # the admin's: big enough to have siblings
    assert "br" in manifest.entry("admin/css/base.css").encodings
    br, plain, robots, unbuilt, *hidden = get(
        project,
        {"url": css, "headers": BR},
        {"url": css},
        {"url": "/static/robots.txt", "headers": BR},
        "/static/css/app.css",
        state_file(project),
        *HIDDEN,
        settings=mode,
    )
    assert (br["status"], br["headers"]["Content-Encoding"], br["headers"]["Vary"]) == (
        200,
        "br",
        "Accept-Encoding",
    )
    assert br["headers"]["Cache-Control"] == IMMUTABLE
    assert br["headers"]["Content-Type"].startswith("text/css;")
    assert br["headers"]["Access-Control-Allow-Origin"] == "*"  # what the tags' crossorigin needs
    assert "Content-Encoding" not in plain["headers"] and plain["headers"]["Cache-Control"] == IMMUTABLE
    assert sri(plain["body"].encode()) == manifest.entry("admin/css/base.css").integrity
    assert manifest.entry("robots.txt").path == "robots.txt"
    assert robots["status"] == 200 and robots["headers"]["Cache-Control"] == "max-age=60, public"
    assert unbuilt["status"] == 404  # the unbuilt name is not in STATIC_ROOT at all
    assert [r["status"] for r in hidden] == [404] * (1 + len(HIDDEN))


def test_under_debug_sources_are_served_and_the_manifest_is_not(project: Path) -> None:
    manifest = Manifest.load(project / "staticfiles" / "manifest.json")
    source, built, *hidden = get(
        project,
        "/static/css/app.css",
        manifest.url("css/app.css"),
        state_file(project),
        *HIDDEN,
        settings={"DEBUG": True},
    )
    assert source["status"] == 200 and source["body"] == SOURCES["css/app.css"]
    assert built["status"] == 200
    assert [r["status"] for r in hidden] == [404] * (1 + len(HIDDEN))


def test_the_filter_is_assetpipes_alone_another_storage_keeps_whitenoise_as_it_was(project: Path) -> None:
    other = {
        "STORAGES": {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    }
    (manifest,) = get(project, "/static/manifest.json", settings=other)
    assert manifest["status"] == 200


def test_assetpipes_middleware_class_still_works_where_settings_name_it(project: Path) -> None:
    ours = {
        "MIDDLEWARE": [
            "django.middleware.security.SecurityMiddleware",
            "assetpipe.integrations.django.whitenoise.WhiteNoiseMiddleware",
        ]
    }
    manifest = Manifest.load(project / "staticfiles" / "manifest.json")
    served, *hidden = get(project, manifest.url("css/app.css"), *HIDDEN, settings=ours)
    assert served["status"] == 200 and served["headers"]["Cache-Control"] == IMMUTABLE
    assert [r["status"] for r in hidden] == [404] * len(HIDDEN)
