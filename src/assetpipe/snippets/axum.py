"""Axum (tower-http 0.6 or 0.7): Rust source for a router serving OUT with ServeDir and a header middleware.

Why this shape: ``ServeDir::precompressed_br().precompressed_gzip()`` picks the sibling and keeps the
original's Content-Type, but tower-http before 0.7 sends no ``Vary`` for it (0.7.0 does, tower-http#692),
and ServeDir has no notion of immutability; a ``middleware::from_fn`` layer adds both from lists generated
out of the manifest, and answers 404 for the manifest and dot files before ServeDir sees them. The same
layer adds CORS to the responses it gives cache headers (2xx and 304, never a 404 or the manifest).
"""

from __future__ import annotations

from assetpipe.manifest import Manifest
from assetpipe.snippets.quoting import AXUM, rust_string
from assetpipe.snippets.site import IMMUTABLE, NO_CACHE, Site, SnippetOptions, header_comment, plan

# The three CORS modes, as the Rust the layer runs: constants, then the lines that set the header.
_CORS_OFF = ["    // CORS is off (cors = false): no Access-Control-Allow-Origin."]
_CORS_ANY = [
    "    if !is_manifest {",
    "        headers.insert(",
    "            header::ACCESS_CONTROL_ALLOW_ORIGIN,",
    '            HeaderValue::from_static("*"),',
    "        );",
    "    }",
]
_CORS_LISTED = [
    "    if !is_manifest {",
    "        // The response depends on Origin: caches must key on it.",
    '        headers.append(header::VARY, HeaderValue::from_static("Origin"));',
    "        if let Some(origin) = origin.filter(|o| ALLOWED_ORIGINS.binary_search(&o.as_str()).is_ok()) {",
    "            if let Ok(value) = HeaderValue::from_str(&origin) {",
    "                headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);",
    "            }",
    "        }",
    "    }",
]


def _cors_lines(site: Site) -> list[str]:
    if not site.cors.enabled:
        return _CORS_OFF
    return _CORS_ANY if site.cors.any_origin else _CORS_LISTED


def _cors_request_lines(site: Site) -> list[str]:
    """What the CORS lines need from the request, taken before ``next.run`` consumes it."""
    if not site.cors.enabled:
        return []
    lines = ["    let is_manifest = path == MANIFEST_URL;"]
    if site.vary_origin:
        lines += [
            "    let origin = request",
            "        .headers()",
            "        .get(header::ORIGIN)",
            "        .and_then(|value| value.to_str().ok())",
            "        .map(str::to_owned);",
        ]
    return lines


def _allowed_origins(site: Site) -> list[str]:
    if not site.vary_origin:
        return []
    doc = "Origins whose requests get Access-Control-Allow-Origin echoed (the cors list), sorted."
    return [*_array("ALLOWED_ORIGINS", doc, list(site.cors.origins)), ""]


def _array(name: str, doc: str, urls: list[str]) -> list[str]:
    lines = [f"/// {doc}", f"static {name}: &[&str] = &["]
    lines += [f"    {rust_string(url)}," for url in sorted(urls)]
    lines.append("];")
    return lines


def _mount(site: Site) -> str:
    if site.base_path == "/":
        # axum refuses to nest at the root; a fallback service serves every path no route claims.
        return "    Router::new().fallback_service(files).layer(middleware::from_fn(assetpipe_headers))"
    prefix = rust_string(site.base_path.rstrip("/"))
    return f"    Router::new().nest_service({prefix}, files).layer(middleware::from_fn(assetpipe_headers))"


def render(manifest: Manifest, options: SnippetOptions) -> str:
    """A Rust module (``assetpipe.rs``) exposing ``router()`` to merge into the application's Router."""
    site = plan(manifest, options, AXUM)
    hidden = "false" if site.serve_manifest else "true"
    # ServeDir looks for a .zst beside every file a zstd client asks for: only when the manifest lists one.
    zstd = any(name == "zstd" for served in site.files for name, _ in served.siblings)
    lines = [
        *header_comment(site, "Axum", prefix="// "),
        '// Cargo.toml: axum = "0.8" (or 0.7), tower-http = { version = "0.7", features = ["fs"] } (or 0.6),',
        '//             percent-encoding = "2"',
        "// Use: let app = Router::new().merge(assetpipe::router()); ServeDir picks the .br or .gz",
        "// sibling and keeps the original's Content-Type; tower-http 0.6 sends no Vary for it, so the",
        "// layer adds it (0.7 sends it itself, and the layer then adds none).",
        "",
        "use axum::{",
        "    extract::Request,",
        "    http::{header, HeaderValue, StatusCode},",
        "    middleware::{self, Next},",
        "    response::{IntoResponse, Response},",
        "    Router,",
        "};",
        "use tower_http::services::ServeDir;",
        "",
        f"/// Absolute path of OUT on the server.\npub const ROOT: &str = {rust_string(site.root)};",
        f"/// The manifest's base URL path.\npub const BASE_URL: &str = {rust_string(site.base_path)};",
        f"const MANIFEST_URL: &str = {rust_string(site.url(site.manifest_path))};",
        f"const HIDE_MANIFEST: bool = {hidden};",
        f"const IMMUTABLE: &str = {rust_string(IMMUTABLE)};",
        f"const NO_CACHE: &str = {rust_string(NO_CACHE)};",
        "",
        *_array(
            "IMMUTABLE_URLS",
            "URL paths the manifest marks immutable, sorted (binary search).",
            [site.url(f.path) for f in site.files if f.immutable],
        ),
        "",
        *_array(
            "URLS_WITH_SIBLINGS",
            "URL paths that have precompressed siblings: every response for them carries Vary, sorted.",
            [site.url(f.path) for f in site.files if f.siblings],
        ),
        "",
        *_allowed_origins(site),
        "/// The router serving BASE_URL from ROOT; merge it into the application's Router.",
        "pub fn router() -> Router {",
        "    let files = ServeDir::new(ROOT)",
        *(["        .precompressed_zstd()"] if zstd else []),
        "        .precompressed_br()",
        "        .precompressed_gzip()",
        "        // A directory is a plain 404, never an index page.",
        "        .append_index_html_on_directories(false);",
        _mount(site),
        "}",
        "",
        "async fn assetpipe_headers(request: Request, next: Next) -> Response {",
        "    // Manifest paths are decoded; a request path is percent-encoded.",
        "    let path = percent_encoding::percent_decode_str(request.uri().path())",
        "        .decode_utf8_lossy()",
        "        .into_owned();",
        "    let hidden = path",
        "        .split('/')",
        "        .any(|segment| segment.starts_with('.') && segment != \".well-known\");",
        "    if hidden || (HIDE_MANIFEST && path == MANIFEST_URL) {",
        "        return StatusCode::NOT_FOUND.into_response();",
        "    }",
        *_cors_request_lines(site),
        "    let mut response = next.run(request).await;",
        "    let status = response.status();",
        "    // Only files that exist get cache headers: a 404 must never be cached for a year.",
        "    if !(status.is_success() || status == StatusCode::NOT_MODIFIED) {",
        "        return response;",
        "    }",
        "    let headers = response.headers_mut();",
        "    let immutable = IMMUTABLE_URLS.binary_search(&path.as_str()).is_ok();",
        "    let cache = if immutable { IMMUTABLE } else { NO_CACHE };",
        "    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));",
        "    if URLS_WITH_SIBLINGS.binary_search(&path.as_str()).is_ok() {",
        "        let already = headers.get_all(header::VARY).iter().any(|value| {",
        "            value",
        "                .to_str()",
        '                .map_or(false, |v| v.to_ascii_lowercase().contains("accept-encoding"))',
        "        });",
        "        if !already {",
        '            headers.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));',
        "        }",
        "    }",
        *_cors_lines(site),
        "    response",
        "}",
    ]
    return "\n".join(lines) + "\n"
