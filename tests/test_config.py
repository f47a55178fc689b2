"""Config files, their precedence under flags, and errors that name the key and the file."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from assetpipe.config import DEFAULT_UNHASHED, Config, load_config, load_cors
from assetpipe.cors import Cors
from assetpipe.errors import ConfigError
from assetpipe.pipeline import build
from tests.conftest import Tree, write_tree


def test_assetpipe_toml_paths_are_relative_to_its_folder(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "assetpipe.toml").write_text('source = "assets"\noutput = "dist"\nbase_url = "/s"\n')
    cfg = load_config(project / "assetpipe.toml", tmp_path)
    assert cfg.source == project / "assets"
    assert cfg.output == project / "dist"
    assert cfg.base_url == "/s/"
    assert cfg.cache_dir == project / ".assetpipe-cache"


def test_pyproject_tool_table_is_found_in_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.assetpipe]\nsource = "static_src"\noutput = "static"\nexclude = ["*.scss"]\n'
    )
    cfg = load_config(None, tmp_path)
    assert cfg.source == tmp_path / "static_src"
    assert cfg.exclude == ("*.scss",)


def test_flags_override_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "assetpipe.toml").write_text('source = "a"\noutput = "b"\nbase_url = "/static/"\n')
    cfg = load_config(None, tmp_path, {"output": Path("elsewhere"), "base_url": "https://cdn.example.com/x/"})
    assert cfg.output == tmp_path / "elsewhere"
    assert cfg.base_url == "https://cdn.example.com/x/"
    assert cfg.base_path == "/x/"


def test_an_unknown_key_names_the_key_and_the_file(tmp_path: Path) -> None:
    path = tmp_path / "assetpipe.toml"
    path.write_text('source = "a"\noutput = "b"\nexlude = ["*.map"]\n')
    with pytest.raises(ConfigError) as info:
        load_config(None, tmp_path)
    assert "'exlude'" in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("min_size = true", "min_size"),
        ('compress = "yes"', "compress"),
        ('include = "css/**"', "include"),
        ('gzip_backend = "lzma"', "gzip_backend"),
        ("min_saving = 2", "min_saving"),
    ],
)
def test_a_wrong_type_names_the_key_and_the_file(tmp_path: Path, line: str, key: str) -> None:
    path = tmp_path / "assetpipe.toml"
    path.write_text(f'source = "a"\noutput = "b"\n{line}\n')
    with pytest.raises(ConfigError, match=key) as info:
        load_config(path, tmp_path)
    assert str(path) in str(info.value)


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "assetpipe.toml").write_text("source = \n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(None, tmp_path)


def test_missing_source_says_how_to_give_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--source"):
        load_config(None, tmp_path, {"output": Path("out")})


def test_a_base_url_must_be_a_path_or_an_http_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="base_url"):
        load_config(None, tmp_path, {"source": Path("a"), "output": Path("b"), "base_url": "static/"})


# -- unhashed: the user's globs add to the defaults ----------------------------------------------------

VENDORED_SITE: Tree = {
    "sw.js": "self.addEventListener('fetch', () => {});\n",
    "robots.txt": "User-agent: *\n",
    "css/app.css": "body { color: red }\n",
    "vendor/tinymce/plugins/link/plugin.js": "tinymce.PluginManager.add('link', () => {});\n",
}


def build_with_config(tmp_path: Path, toml: str) -> dict[str, Any]:
    """Build VENDORED_SITE through assetpipe.toml holding ``toml``; the manifest's assets as JSON."""
    write_tree(tmp_path / "assets", VENDORED_SITE)
    (tmp_path / "assetpipe.toml").write_text(f'source = "assets"\noutput = "dist"\ncompress = false\n{toml}\n')
    build(load_config(None, tmp_path))
    assets: dict[str, Any] = json.loads((tmp_path / "dist" / "manifest.json").read_text())["assets"]
    return assets


def test_unhashed_globs_add_to_the_defaults_so_a_service_worker_keeps_its_url(tmp_path: Path) -> None:
    # As README's vendor-tree advice says: a service worker hashed here would pin clients to their first one.
    assets = build_with_config(tmp_path, 'unhashed = ["vendor/tinymce/**"]')
    assert assets["sw.js"]["path"] == "sw.js"
    assert assets["sw.js"]["immutable"] is False
    assert (tmp_path / "dist" / "sw.js").is_file()
    assert assets["robots.txt"]["immutable"] is False
    plugin = "vendor/tinymce/plugins/link/plugin.js"
    assert assets[plugin]["path"] == plugin and assets[plugin]["immutable"] is False
    assert assets["css/app.css"]["immutable"] is True


def test_unhashed_defaults_false_drops_the_built_in_list_and_keeps_the_users(tmp_path: Path) -> None:
    assets = build_with_config(tmp_path, 'unhashed_defaults = false\nunhashed = ["robots.txt"]')
    assert assets["sw.js"]["immutable"] is True
    assert assets["sw.js"]["path"] != "sw.js"
    assert assets["robots.txt"] == {**assets["robots.txt"], "path": "robots.txt", "immutable": False}


def test_a_config_without_unhashed_has_exactly_the_defaults(tmp_path: Path) -> None:
    (tmp_path / "assetpipe.toml").write_text('source = "a"\noutput = "b"\n')
    assert load_config(None, tmp_path).unhashed == DEFAULT_UNHASHED


def test_unhashed_from_the_file_follows_the_defaults_once_each(tmp_path: Path) -> None:
    (tmp_path / "assetpipe.toml").write_text('source = "a"\noutput = "b"\nunhashed = ["x/**", "sw.js", "x/**"]\n')
    assert load_config(None, tmp_path).unhashed == (*DEFAULT_UNHASHED, "x/**")


def test_the_python_api_adds_to_the_defaults_too(tmp_path: Path) -> None:
    config = Config(source=tmp_path / "a", output=tmp_path / "b", unhashed=("vendor/**",))
    assert config.unhashed == (*DEFAULT_UNHASHED, "vendor/**")
    # Rebuilding a Config from its own fields (dataclasses.replace) changes nothing.
    assert replace(config, compress=False).unhashed == config.unhashed
    assert replace(config, unhashed=("other/**",)).unhashed == (*DEFAULT_UNHASHED, "other/**")
    bare = Config(source=tmp_path / "a", output=tmp_path / "b", unhashed=("vendor/**",), unhashed_defaults=False)
    assert bare.unhashed == ("vendor/**",)
    assert replace(bare, compress=False).unhashed == ("vendor/**",)
    # Dropping the defaults from an existing Config takes both fields, as the field's comment says.
    assert replace(config, unhashed_defaults=False, unhashed=("x/**",)).unhashed == ("x/**",)
    with pytest.raises(ConfigError, match="list of globs"):
        Config(source=tmp_path / "a", output=tmp_path / "b", unhashed="sw.js")  # type: ignore[arg-type]


@pytest.mark.parametrize("line", ["unhashed_defaults = 0", 'unhashed_defaults = "no"', 'unhashed = "sw.js"'])
def test_unhashed_settings_of_the_wrong_type_are_config_errors(tmp_path: Path, line: str) -> None:
    path = tmp_path / "assetpipe.toml"
    path.write_text(f'source = "a"\noutput = "b"\n{line}\n')
    with pytest.raises(ConfigError, match="unhashed") as info:
        load_config(path, tmp_path)
    assert str(path) in str(info.value)
# -- cors ------------------------------------------------------------------------------------------


def test_cors_defaults_to_any_origin(tmp_path: Path) -> None:
    (tmp_path / "assetpipe.toml").write_text('source = "a"\noutput = "b"\n')
    assert load_config(None, tmp_path).cors == Cors(("*",))


@pytest.mark.parametrize(
    ("line", "origins"),
    [
        ('cors = "*"', ("*",)),
        ("cors = false", ()),
        (
            'cors = ["https://a.example", "http://localhost:8000"]',
            ("https://a.example", "http://localhost:8000"),
        ),
    ],
)
def test_cors_is_read_from_the_config_file(tmp_path: Path, line: str, origins: tuple[str, ...]) -> None:
    (tmp_path / "assetpipe.toml").write_text(f'source = "a"\noutput = "b"\n{line}\n')
    assert load_config(None, tmp_path).cors.origins == origins
    assert load_cors(None, tmp_path).origins == origins


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('cors = ["https://a.example/"]', "cors origin 'https://a.example/' is not an origin"),
        ('cors = ["https://a.example\\n"]', "is not an origin"),
        ("cors = true", "cors must be"),
        ("cors = []", "empty list"),
        ("cors = 1", 'cors must be "\\*", a list of origins or false, not 1'),
    ],
)
def test_a_bad_cors_value_names_the_file(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "assetpipe.toml"
    path.write_text(f'source = "a"\noutput = "b"\n{line}\n')
    for load in (lambda: load_config(None, tmp_path), lambda: load_cors(None, tmp_path)):
        with pytest.raises(ConfigError, match=message) as caught:
            load()
        assert str(caught.value).startswith(f"{path}: ")


def test_load_cors_needs_no_source_or_output(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.assetpipe]\ncors = ["https://a.example"]\n')
    assert load_cors(None, tmp_path).origins == ("https://a.example",)
    assert load_cors(None, tmp_path / "nowhere").origins == ("*",)


def test_mounts_and_the_import_map_are_read_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "assetpipe.toml").write_text(
        'source = "src"\noutput = "dist"\nimportmap_packages = ["lit", "@lit/reactive-element"]\n'
        '[mounts]\n"vendor/lit" = "node_modules/lit"\n'
        '"vendor/x/" = { path = "../x", exclude = ["*.ts"] }\n'
        '[importmap]\n"htmx.org" = "vendor/htmx/htmx.esm.js"\n"lit/" = "vendor/lit/"\n'
        '[importmap_scopes."vendor/legacy/"]\n"lit" = "vendor/lit2/index.js"\n'
    )
    cfg = load_config(None, tmp_path)
    assert [(m.prefix, m.directory, m.exclude) for m in cfg.mounts] == [
        ("vendor/lit/", tmp_path / "node_modules" / "lit", ()),
        ("vendor/x/", tmp_path.parent / "x", ("*.ts",)),
    ]
    assert cfg.importmap == (("htmx.org", "vendor/htmx/htmx.esm.js"), ("lit/", "vendor/lit/"))
    assert cfg.importmap_scopes == (("vendor/legacy/", (("lit", "vendor/lit2/index.js"),)),)
    assert cfg.importmap_packages == ("lit", "@lit/reactive-element")
    assert cfg.node_modules == tmp_path / "node_modules"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[mounts]\n"../up" = "x"\n', "mount prefix '../up' is not a logical path"),
        ('[mounts]\n".git/x" = "x"\n', "mount prefix '.git/x' is not a logical path"),
        ('[mounts]\n"v" = 3\n', "mount 'v' must be a directory"),
        ('[mounts]\n"v" = { path = "x", exlude = [] }\n', "mount 'v': unknown key 'exlude'"),
        ('[mounts]\n"v" = "x"\n"v/" = "y"\n', "two mounts share one prefix"),
        ('[importmap]\n"./a.js" = "js/a.js"\n', "[importmap] key './a.js' is not a bare specifier"),
        ('[importmap]\n"https://x/a.js" = "js/a.js"\n', "is not a bare specifier"),
        ('[importmap]\n"lit/" = "vendor/lit/index.js"\n', "a key ending in '/' maps to a folder"),
        ('[importmap]\n"lit" = "vendor/lit/"\n', "a key ending in '/' maps to a folder"),
        ('[importmap]\n"lit" = "/static/lit.js"\n', "target '/static/lit.js' is not a logical path"),
        ('[importmap]\n"lit" = 1\n', "must map to a logical path"),
        ('[importmap_scopes]\n"js/" = "x"\n', 'importmap_scopes."js/"] must be a table'),
        ('importmap_packages = ["../evil"]\n', "'../evil' is not an npm package name"),
        ("importmap = []\n", "'importmap' must be dict"),
    ],
)
def test_a_bad_mount_or_import_map_entry_names_it_and_the_file(tmp_path: Path, table: str, message: str) -> None:
    (tmp_path / "assetpipe.toml").write_text('source = "src"\noutput = "dist"\n' + table)
    with pytest.raises(ConfigError) as info:
        load_config(None, tmp_path)
    assert message in info.value.message
    assert info.value.path == str(tmp_path / "assetpipe.toml")


# -- cache_url (the remote cache) ----------------------------------------------------------------------


def test_cache_url_comes_from_the_file_and_the_environment_overrides_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "assetpipe.toml").write_text(
        'source = "src"\noutput = "out"\ncache_url = "s3://team-bucket/assets/cache"\n', encoding="utf-8"
    )
    monkeypatch.delenv("ASSETPIPE_CACHE_URL", raising=False)
    assert load_config(None, tmp_path).cache_url == "s3://team-bucket/assets/cache"
    monkeypatch.setenv("ASSETPIPE_CACHE_URL", "s3://ci-bucket/cache")
    assert load_config(None, tmp_path).cache_url == "s3://ci-bucket/cache"
    monkeypatch.setenv("ASSETPIPE_CACHE_URL", "")  # an untrusted job switches the shared cache off
    assert load_config(None, tmp_path).cache_url is None


@pytest.mark.parametrize(
    "url",
    ["http://bucket/x", "s3://", "s3://B/x", "s3://ab/x", "s3://bucket/../x", "s3://key:secret@bucket/x",
     "file://relative/dir", "s3://bucket/x?versionId=1"],
)  # fmt: skip
def test_a_bad_cache_url_names_the_file(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASSETPIPE_CACHE_URL", raising=False)
    (tmp_path / "assetpipe.toml").write_text(
        f'source = "src"\noutput = "out"\ncache_url = "{url}"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="cache_url") as info:
        load_config(None, tmp_path)
    assert info.value.path == str(tmp_path / "assetpipe.toml")


def test_a_bad_cache_url_in_the_environment_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSETPIPE_CACHE_URL", "s3:/oops")
    with pytest.raises(ConfigError) as info:
        load_config(None, tmp_path, {"source": "src", "output": "out"})
    assert str(info.value).startswith("ASSETPIPE_CACHE_URL: cache_url 's3:/oops' must look like")


def test_cache_url_mode_is_read_write_unless_the_file_or_the_environment_says_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ASSETPIPE_CACHE_URL_MODE", raising=False)
    config = tmp_path / "assetpipe.toml"
    config.write_text('source = "src"\noutput = "out"\ncache_url = "s3://team-bucket/c"\n', encoding="utf-8")
    assert load_config(None, tmp_path).cache_url_mode == "read-write"
    monkeypatch.setenv("ASSETPIPE_CACHE_URL_MODE", "read")  # a pull request's job
    assert load_config(None, tmp_path).cache_url_mode == "read"
    config.write_text(config.read_text(encoding="utf-8") + 'cache_url_mode = "read"\n', encoding="utf-8")
    monkeypatch.setenv("ASSETPIPE_CACHE_URL_MODE", "")  # empty: the file's setting stands
    assert load_config(None, tmp_path).cache_url_mode == "read"
    monkeypatch.setenv("ASSETPIPE_CACHE_URL_MODE", "read-write")  # the trusted main branch
    assert load_config(None, tmp_path).cache_url_mode == "read-write"


def test_a_bad_cache_url_mode_names_the_file_or_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ASSETPIPE_CACHE_URL_MODE", raising=False)
    config = tmp_path / "assetpipe.toml"
    config.write_text('source = "src"\noutput = "out"\ncache_url_mode = "write"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(None, tmp_path)
    assert str(info.value) == f"{config}: 'cache_url_mode' must be one of read-write, read, not 'write'"
    config.write_text('source = "src"\noutput = "out"\n', encoding="utf-8")
    monkeypatch.setenv("ASSETPIPE_CACHE_URL_MODE", "readonly")
    with pytest.raises(ConfigError) as info:
        load_config(None, tmp_path)
    assert str(info.value).startswith("ASSETPIPE_CACHE_URL_MODE: 'cache_url_mode' must be one of")
