from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path


def page(request: HttpRequest, name: str) -> HttpResponse:
    return render(request, name)


urlpatterns = [
    path("admin/", admin.site.urls),
    path("", page, {"name": "page.html"}),
    path("jinja/", page, {"name": "jinja_page.html"}),
    path("docs/", page, {"name": "docs.html"}),
    path("tag-attrs/", page, {"name": "tag_attrs.html"}),
    path("tag-unknown/", page, {"name": "tag_unknown.html"}),
    path("live-reload/", page, {"name": "live_reload.html"}),
    path("importmap/", page, {"name": "importmap.html"}),
    path("importmap-only/", page, {"name": "importmap_only.html"}),
    path("jinja-importmap/", page, {"name": "jinja_importmap.html"}),
    path("static-unknown/", page, {"name": "static_unknown.html"}),
]
