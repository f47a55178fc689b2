"""The Django app (``"assetpipe.integrations.django"`` in INSTALLED_APPS), for ``{% load assetpipe %}``."""

from __future__ import annotations

import importlib.util

from django.apps import AppConfig


class AssetpipeConfig(AppConfig):  # type: ignore[misc]  # Django ships no types
    name = "assetpipe.integrations.django"
    label = "assetpipe"  # the module's last part, "django", would be a confusing app label
    verbose_name = "assetpipe"

    def ready(self) -> None:
        # whitenoise's stock middleware would serve manifest.json and .assetpipe/ from STATIC_ROOT: give
        # it the filter (see assetpipe/integrations/django/whitenoise.py) before Django builds the
        # middleware chain, which happens after every app is ready.
        if importlib.util.find_spec("whitenoise") is not None:
            from assetpipe.integrations.django.whitenoise import install

            install()
