"""assetpipe: content-hashed static assets, precompressed, with a manifest any server can read.

``from assetpipe import build, Config`` builds from Python: ``build(Config(source=..., output=...))``.
``build`` is imported on first use, so the template helper and the integrations, which only read a
manifest, never load the build machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assetpipe.config import Config
from assetpipe.errors import AssetpipeError, ManifestError, UnknownAsset
from assetpipe.manifest import Manifest, ManifestEntry
from assetpipe.reader import ManifestReader

if TYPE_CHECKING:
    from assetpipe.pipeline import BuildReport, build

__version__ = "0.1.0"

__all__ = [
    "AssetpipeError",
    "BuildReport",
    "Config",
    "Manifest",
    "ManifestEntry",
    "ManifestError",
    "ManifestReader",
    "UnknownAsset",
    "__version__",
    "build",
]


def __getattr__(name: str) -> Any:
    if name in ("build", "BuildReport"):
        from assetpipe import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'assetpipe' has no attribute {name!r}")
