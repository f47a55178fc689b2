"""Settings of the Django project the collectstatic, tag, whitenoise and admin tests run.

The assetpipe part is docs/helper.md's settings block, run as it stands (INSTALLED_APPS, MIDDLEWARE with
whitenoise, STATIC_URL, STATIC_ROOT, STORAGES); the rest is what any project has. Everything lives under
$ASSETPIPE_TEST_ROOT (a test's tmp_path): assets/ (STATICFILES_DIRS), templates/, staticfiles/
(STATIC_ROOT), db.sqlite3. $ASSETPIPE_TEST_SETTINGS (JSON) overrides any setting.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.integrations.docs import blocks

ROOT = BASE_DIR = Path(os.environ["ASSETPIPE_TEST_ROOT"])
exec(blocks("Django", "python")[0])  # defines INSTALLED_APPS, MIDDLEWARE, STATIC_*, STORAGES

SECRET_KEY = "test-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
ROOT_URLCONF = "tests.integrations.djangoproject.urls"
USE_TZ = True

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [ROOT / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    },
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [ROOT / "jinja2"],
        "OPTIONS": {"environment": "assetpipe.integrations.django.environment"},
    },
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ROOT / "db.sqlite3"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STATICFILES_DIRS = [ROOT / "assets"]
ASSETPIPE_BUILD = {"gzip_backend": "zlib"}

globals().update(json.loads(os.environ.get("ASSETPIPE_TEST_SETTINGS", "{}")))
