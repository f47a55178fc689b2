"""``{% load assetpipe %}``: ``{% asset %}``, ``{% asset_integrity %}``, ``{% asset_tag %}``,
``{% importmap_tag %}`` (the build's import map, once, before any module script) and
``{% live_reload_tag %}`` (the client of ``assetpipe watch --live-reload``, when DEBUG; else nothing).

    {% importmap_tag nonce=request.csp_nonce %}
    {% asset_tag "css/app.css" %}
    {% asset_tag "js/main.js" nonce=request.csp_nonce %}
    <img src="{% asset 'img/logo.svg' %}" alt="Logo">

The same output as the Jinja2 helpers (``assetpipe.tags`` renders both); keyword arguments become
attributes as there (``data_turbo_track="reload"`` -> ``data-turbo-track``). ``asset_tag`` returns
Markup, which Django's autoescaping keeps as it is.
"""

from __future__ import annotations

from django import template

from assetpipe.integrations.django.lookup import (
    asset,
    asset_integrity,
    asset_tag,
    importmap_tag,
    live_reload_tag,
)

register = template.Library()
register.simple_tag(asset, name="asset")
register.simple_tag(asset_integrity, name="asset_integrity")
register.simple_tag(asset_tag, name="asset_tag")
register.simple_tag(importmap_tag, name="importmap_tag")
register.simple_tag(live_reload_tag, name="live_reload_tag")
