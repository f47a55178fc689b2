"""The assetpipe example site: a Flask app whose pages load the built assets through the helper.

    assetpipe build --config example_site/assetpipe.toml
    flask --app example_site/app.py run            # production-like: manifest read once
    flask --app example_site/app.py run --debug    # re-reads the manifest after each rebuild;
    assetpipe watch --config example_site/assetpipe.toml   # ...in a second terminal

Templates call ``asset_tag`` for the stylesheet and the JS module (SRI, modulepreload) and ``asset`` for
an image. /static/ serves only files the manifest names, with a year's ``immutable`` caching for hashed
ones and the precompressed sibling when the browser accepts it; in production let the web server do
that instead (``assetpipe snippet nginx``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, render_template, request, send_from_directory

from assetpipe.integrations.flask import AssetPipe

HERE = Path(__file__).resolve().parent
ONE_YEAR = 365 * 24 * 3600

assets = AssetPipe()


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """App factory (``flask --app example_site/app.py`` finds it by name)."""
    app = Flask(__name__, root_path=str(HERE), static_folder=None)
    app.config.update(ASSETPIPE_MANIFEST="dist/manifest.json")  # relative to this folder
    app.config.update(config or {})
    assets.init_app(app)

    @app.route("/")
    def index() -> str:
        return render_template("index.html")

    @app.route("/about/")
    def about() -> str:
        return render_template("about.html")

    @app.route("/static/<path:filename>")
    def static(filename: str) -> Response:
        reader = assets.helper().reader
        # Serve what the manifest names and nothing else: not manifest.json (a PWA would take it for
        # its web manifest), not the .assetpipe/ bookkeeping, not files of builds since cleaned away.
        by_path = {entry.path: entry for entry in reader.manifest.assets.values()}
        entry = by_path.get(filename)
        if entry is None:
            abort(404)
        served, encoding = entry.path, None
        for name in ("br", "gzip"):
            if name in entry.encodings and request.accept_encodings.quality(name) > 0:
                served, encoding = entry.encodings[name].path, name
                break
        max_age = ONE_YEAR if entry.immutable else 0
        response = send_from_directory(reader.path.parent, served, max_age=max_age, conditional=True)
        response.content_type = entry.content_type
        response.vary.add("Accept-Encoding")
        if encoding is not None:
            response.content_encoding = encoding
        if entry.immutable:
            response.cache_control.immutable = True
        else:
            response.cache_control.no_cache = True
        return response

    return app


if __name__ == "__main__":
    create_app().run(debug=True)
