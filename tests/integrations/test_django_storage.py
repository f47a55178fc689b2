"""ManifestStorage: ``manage.py collectstatic --noinput`` builds with assetpipe into STATIC_ROOT, and
``{% static %}``, the tag library and the admin resolve through its manifest. Real Django, real admin,
each in a subprocess (tests/integrations/djangoproject/); whitenoise's part is test_django_whitenoise.py."""

from __future__ import annotations

import re
from pathlib import Path

from assetpipe.manifest import Manifest

from .dist import sri
from .django_project import UNCOMPRESSED, collectstatic, get, make_project, manage

HASHED = re.compile(r"\.[0-9a-f]{12}\.")


def served_files(root: Path) -> dict[str, tuple[int, int]]:
    """Every file but the build's own bookkeeping (.assetpipe/), with its mtime and inode."""
    return {
        str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_ino)
        for p in root.rglob("*")
        if p.is_file() and ".assetpipe" not in p.relative_to(root).parts
    }


def test_collectstatic_writes_an_assetpipe_build_into_staticfiles(django_project: Path) -> None:
    staticfiles = django_project / "staticfiles"
    manifest = Manifest.load(staticfiles / "manifest.json")
    for logical, entry in manifest.assets.items():
        assert sri((staticfiles / entry.path).read_bytes()) == entry.integrity, logical
        for encoding in entry.encodings.values():
            assert (staticfiles / encoding.path).is_file()
    css = (staticfiles / manifest.entry("css/app.css").path).read_text()
    assert css == f"body {{ background: url(../{manifest.entry('img/logo.svg').path}) }}\n"
    assert HASHED.search(manifest.entry("admin/css/base.css").path)
    assert "br" in manifest.entry("admin/css/base.css").encodings
    # The unbuilt copies live beside STATIC_ROOT, never in it: it is served.
    assert not (staticfiles / "css" / "app.css").exists()
    assert (django_project / ".assetpipe-collect" / "css" / "app.css").is_file()


def test_a_second_collectstatic_with_nothing_changed_copies_and_rewrites_nothing(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    first = collectstatic(root, UNCOMPRESSED)
    assert re.search(r"\b(\d+) static files copied.*, \1 post-processed", first)
    before = served_files(root / "staticfiles")
    second = collectstatic(root, UNCOMPRESSED)
    assert re.fullmatch(r"0 static files copied to '.*', \d+ unmodified\.", second.strip()), second
    assert "post-processed" not in second
    assert served_files(root / "staticfiles") == before


def test_a_changed_source_is_rebuilt_and_the_old_hashed_file_kept(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    collectstatic(root, UNCOMPRESSED)
    old = Manifest.load(root / "staticfiles" / "manifest.json")
    (root / "assets" / "js" / "c.js").write_text("export const c = 4;\n")
    out = collectstatic(root, UNCOMPRESSED)
    new = Manifest.load(root / "staticfiles" / "manifest.json")
    assert "1 static file copied" in out
    # c.js changed, and so did everything whose import URL names it.
    assert {name for name in new.assets if new.entry(name).path != old.entry(name).path} == {
        "js/c.js",
        "js/b.js",
        "js/main.js",
    }
    assert "3 post-processed" in out
    assert (root / "staticfiles" / old.entry("js/c.js").path).is_file()  # rolling deploys still find it


def test_a_same_size_edit_within_the_same_second_is_still_collected(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    collectstatic(root, UNCOMPRESSED)
    source = root / "assets" / "js" / "a.js"
    copy = root / ".assetpipe-collect" / "js" / "a.js"
    stamp = copy.stat().st_mtime_ns
    source.write_text("export const a = 9;\n")  # same size
    # collectstatic compares whole seconds: give the source the copy's second, a few ns later.
    import os

    os.utime(source, ns=(stamp + 1, stamp + 1))
    collectstatic(root, UNCOMPRESSED)
    manifest = Manifest.load(root / "staticfiles" / "manifest.json")
    assert (root / "staticfiles" / manifest.entry("js/a.js").path).read_text() == "export const a = 9;\n"


def test_a_deleted_source_leaves_the_manifest(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    collectstatic(root, UNCOMPRESSED)
    (root / "assets" / "js" / "a.js").unlink()
    (root / "assets" / "js" / "main.js").write_text("import './b.js';\n")
    collectstatic(root, UNCOMPRESSED)
    manifest = Manifest.load(root / "staticfiles" / "manifest.json")
    assert "js/a.js" not in manifest.assets
    assert not (root / ".assetpipe-collect" / "js" / "a.js").exists()


def test_a_broken_reference_fails_collectstatic_with_one_line_and_keeps_the_last_build(
    tmp_path: Path,
) -> None:
    root = make_project(tmp_path)
    collectstatic(root, UNCOMPRESSED)
    manifest_bytes = (root / "staticfiles" / "manifest.json").read_bytes()
    (root / "assets" / "css" / "app.css").write_text("body { background: url(../img/logo.sgv) }\n")
    done = manage(root, "collectstatic", "--noinput", settings=UNCOMPRESSED)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("CommandError: css/app.css:1:")
    assert "img/logo.svg" in done.stderr  # did you mean
    assert (root / "staticfiles" / "manifest.json").read_bytes() == manifest_bytes


def test_static_and_the_tag_library_resolve_through_the_manifest(django_project: Path) -> None:
    manifest = Manifest.load(django_project / "staticfiles" / "manifest.json")
    page, jinja_page = get(django_project, "/", "/jinja/")
    html = page["body"]
    assert (
        f'<link rel="stylesheet" href="{manifest.url("css/app.css")}" integrity="{manifest.entry("css/app.css").integrity}" crossorigin="anonymous">'
        in html
    )
    assert html.count('<link rel="modulepreload"') == 3
    assert html.count('nonce="n0nce"') == 4  # the script and its three preloads
    assert f'<img src="{manifest.url("img/logo.svg")}" alt="logo">' in html
    assert f'<link rel="icon" href="{manifest.url("img/logo.svg")}">' in html  # {% static %}
    assert f'content="{manifest.entry("css/app.css").integrity}"' in html
    # The Django tags and the Jinja2 helpers render the same tags (one renderer: assetpipe.tags).
    for line in jinja_page["body"].splitlines()[1:]:
        assert line in html.replace(' nonce="n0nce"', ""), line


def test_the_template_in_the_docs_renders_hashed_urls(django_project: Path) -> None:
    manifest = Manifest.load(django_project / "staticfiles" / "manifest.json")
    (page,) = get(django_project, "/docs/")
    html = page["body"]
    assert f'<link rel="stylesheet" href="{manifest.url("css/app.css")}"' in html
    assert f'<script type="module" src="{manifest.url("js/main.js")}"' in html
    assert f'<img src="{manifest.url("img/logo.svg")}" alt="Logo">' in html
    assert f'<link rel="icon" href="{manifest.url("img/logo.svg")}">' in html


def test_an_unknown_static_path_raises_with_did_you_mean_unless_not_strict(django_project: Path) -> None:
    (strict,) = get(django_project, "/static-unknown/")
    assert strict["error"] == (
        "MissingAsset: unknown asset 'css/ap.css' (did you mean 'css/app.css', 'admin/css/base.css'?)"
    )
    (lenient,) = get(django_project, "/static-unknown/", settings={"ASSETPIPE_STRICT": False})
    assert lenient["body"] == '<link href="/static/css/ap.css">'


ADMIN_PAGES = (
    "/admin/",
    "/admin/auth/user/",
    "/admin/auth/user/add/",
    "/admin/auth/user/1/change/",
    "/admin/auth/group/add/",
)


def test_admin_pages_point_every_stylesheet_script_and_image_at_an_existing_hashed_file(
    django_project: Path,
) -> None:
    manifest = Manifest.load(django_project / "staticfiles" / "manifest.json")
    hashed_paths = {entry.path for entry in manifest.assets.values()}
    pages = get(django_project, *({"url": url, "admin": True} for url in ADMIN_PAGES))
    urls: set[str] = set()
    for url, page in zip(ADMIN_PAGES, pages, strict=True):
        assert page["status"] == 200, (url, page)
        found = re.findall(r'(?:href|src)="(/static/[^"]+)"', page["body"])
        assert found, url
        urls.update(found)
    assert any(u.endswith(".css") for u in urls) and any(u.endswith(".js") for u in urls)
    assert any(u.endswith(".svg") for u in urls)
    for url in sorted(urls):
        path = url.removeprefix("/static/")
        assert path in hashed_paths and HASHED.search(path), url
        assert (django_project / "staticfiles" / path).is_file(), url
    served = get(django_project, *sorted(urls))
    assert {r["status"] for r in served} == {200}


def test_a_collection_folder_holding_other_files_is_refused_not_emptied(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    mine = root / "project_files"
    (mine / "keep.txt").parent.mkdir()
    (mine / "keep.txt").write_text("mine\n")
    done = manage(
        root, "collectstatic", "--noinput", settings={**UNCOMPRESSED, "ASSETPIPE_COLLECT_DIR": str(mine)}
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"{mine}: not a collection folder of assetpipe's" in done.stderr
    assert sorted(p.name for p in mine.iterdir()) == ["keep.txt"]
    assert not (root / "staticfiles" / "manifest.json").exists()


def test_a_wrong_build_option_fails_collectstatic_with_one_line(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    for options, message in (
        (
            {"compres": False},
            "CommandError: ASSETPIPE_BUILD: unknown option 'compres' (known: broken_references, ",
        ),
        ({"compress": "no"}, "CommandError: ASSETPIPE_BUILD: 'compress' must be bool, not 'no'"),
        ({"exclude": "*.map"}, "CommandError: ASSETPIPE_BUILD: 'exclude' must be list or tuple, not '*.map'"),
        ({"cors": 5}, 'CommandError: ASSETPIPE_BUILD: cors must be "*", a list of origins or false, not 5'),
        # Tables are checked by assetpipe.toml's own checker, with its messages.
        (
            {"importmap": {"./x": "js/x.js"}},
            "CommandError: ASSETPIPE_BUILD: [importmap] key './x' is not a bare specifier",
        ),
        ({"cache_url": "ftp://x"}, "CommandError: ASSETPIPE_BUILD: cache_url 'ftp://x' must look like s3://"),
    ):
        done = manage(root, "collectstatic", "--noinput", settings={"ASSETPIPE_BUILD": options})
        assert done.returncode == 1
        assert done.stderr.startswith(message), done.stderr
        assert "Traceback" not in done.stderr


def test_build_options_reach_the_build(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    collectstatic(root, {"ASSETPIPE_BUILD": {"compress": False, "exclude": ["js/**"]}})
    manifest = Manifest.load(root / "staticfiles" / "manifest.json")
    assert "css/app.css" in manifest.assets and not any(name.startswith("js/") for name in manifest.assets)
    assert not any(entry.encodings for entry in manifest.assets.values())


def test_collectstatic_clear_empties_the_collection_folder_and_builds_again(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    collectstatic(root, UNCOMPRESSED)
    before = Manifest.load(root / "staticfiles" / "manifest.json")
    done = manage(root, "collectstatic", "--noinput", "--clear", settings=UNCOMPRESSED)
    assert done.returncode == 0, done.stderr
    assert Manifest.load(root / "staticfiles" / "manifest.json") == before
    assert (root / ".assetpipe-collect" / ".assetpipe-collect").is_file()
