"""assetpipe: content-hashed static assets, precompressed, with a manifest any server can read."""

from __future__ import annotations

from assetpipe.errors import AssetpipeError, ManifestError, UnknownAsset
from assetpipe.manifest import Manifest, ManifestEntry
from assetpipe.reader import ManifestReader

__version__ = "0.1.0"

__all__ = [
    "AssetpipeError",
    "Manifest",
    "ManifestEntry",
    "ManifestError",
    "ManifestReader",
    "UnknownAsset",
    "__version__",
]
