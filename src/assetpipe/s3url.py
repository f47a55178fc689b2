"""``s3://bucket/prefix`` URLs: the remote cache's and publish's address of a place in a bucket."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from assetpipe.errors import ConfigError

# AWS's rules for new bucket names (3-63 lowercase letters, digits, dots, hyphens).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


@dataclass(frozen=True, slots=True)
class S3Location:
    """An ``s3://bucket/prefix`` URL: the bucket, and the key prefix ('' or ending in '/')."""

    bucket: str
    prefix: str

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def key(self, name: str) -> str:
        return self.prefix + name


def parse_s3_url(url: str, *, what: str = "URL") -> S3Location:
    """``s3://bucket/some/prefix`` -> S3Location; anything else is a ConfigError naming ``what``."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment or "@" in parts.netloc:
        raise ConfigError(f"{what} {url!r} must look like s3://bucket/prefix")
    if not _BUCKET.fullmatch(parts.netloc) or ".." in parts.netloc:
        raise ConfigError(f"{what} {url!r}: {parts.netloc!r} is not a valid bucket name")
    segments = [s for s in unquote(parts.path).split("/") if s]
    if any(s in (".", "..") for s in segments):
        raise ConfigError(f"{what} {url!r}: the prefix must not contain '.' or '..' segments")
    return S3Location(parts.netloc, "".join(s + "/" for s in segments))


def check_cache_url(url: str) -> str:
    """``url`` if it is a valid cache_url (``s3://bucket/prefix``, ``file:///dir``), else ConfigError."""
    if url.startswith("file:"):
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ConfigError(f"cache_url {url!r} must look like file:///absolute/directory")
        return url
    parse_s3_url(url, what="cache_url")
    return url
