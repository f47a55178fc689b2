"""The Django app (``"assetpipe.integrations.django"`` in INSTALLED_APPS), for ``{% load assetpipe %}``."""

from __future__ import annotations

from django.apps import AppConfig


class AssetpipeConfig(AppConfig):  # type: ignore[misc]  # Django ships no types
    name = "assetpipe.integrations.django"
    label = "assetpipe"  # the module's last part, "django", would be a confusing app label
    verbose_name = "assetpipe"
