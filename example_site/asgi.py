"""The same example site as a FastAPI app: Jinja2Templates with the helper, and assetpipe's StaticFiles.

    assetpipe build --config example_site/assetpipe.toml
    uvicorn --factory example_site.asgi:create_app                 # production-like: manifest read once
    ASSETPIPE_AUTO_RELOAD=1 uvicorn --factory example_site.asgi:create_app --reload
    assetpipe watch --config example_site/assetpipe.toml           # ...in a second terminal

The pages are app.py's templates, unchanged: ``asset_tag`` for the stylesheet and the JS module (SRI,
modulepreload), ``asset`` for the logo, ``url_for`` for links. /static/ is
``assetpipe.integrations.starlette.StaticFiles``: the build's files only, the .br/.gz sibling the browser
accepts, ``immutable`` for hashed files, ETag and 304.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from assetpipe.integrations.starlette import StaticFiles, install

HERE = Path(__file__).resolve().parent


def create_app(output: str | os.PathLike[str] | None = None, auto_reload: bool | None = None) -> FastAPI:
    """App factory: ``output`` is the build (default example_site/dist)."""
    out = Path(output) if output is not None else HERE / "dist"
    reload = bool(os.environ.get("ASSETPIPE_AUTO_RELOAD")) if auto_reload is None else auto_reload
    templates = Jinja2Templates(directory=HERE / "templates")
    install(templates, out / "manifest.json", auto_reload=reload)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", name="index", response_class=HTMLResponse)
    async def index(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "index.html")

    @app.get("/about/", name="about", response_class=HTMLResponse)
    async def about(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "about.html")

    app.mount("/static", StaticFiles(directory=out, auto_reload=reload), name="static")
    return app
