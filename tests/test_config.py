"""Config files, their precedence under flags, and errors that name the key and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from assetpipe.config import load_config, load_cors
from assetpipe.cors import Cors
from assetpipe.errors import ConfigError


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
