"""Settings of the Django project the collectstatic, tag, whitenoise and admin tests run.

Everything lives under $ASSETPIPE_TEST_ROOT (a test's tmp_path): assets/ (STATICFILES_DIRS), templates/,
static_root/ (STATIC_ROOT), db.sqlite3. $ASSETPIPE_TEST_SETTINGS (JSON) overrides any setting.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

ROOT = Path(os.environ["ASSETPIPE_TEST_ROOT"])

SECRET_KEY = "test-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
ROOT_URLCONF = "tests.integrations.djangoproject.urls"
USE_TZ = True

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "assetpipe.integrations.django",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
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

STATIC_URL = "/static/"
STATIC_ROOT = ROOT / "static_root"
STATICFILES_DIRS = [ROOT / "assets"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "assetpipe.integrations.django.ManifestStorage"},
}
ASSETPIPE_BUILD = {"gzip_backend": "zlib"}

globals().update(json.loads(os.environ.get("ASSETPIPE_TEST_SETTINGS", "{}")))
