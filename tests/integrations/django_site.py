"""A one-file Django project for test_django.py, run in a subprocess so settings.configure() stays there.

argv[1]: JSON object of extra settings; argv[2]: templates directory; argv[3:]: URLs to GET with
Django's test Client. Prints {url: {"status": ..., "body": ...} or {"error": "Type: message"}}.
"""

from __future__ import annotations

import json
import sys

import django
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.test import Client
from django.urls import path


def page(request: HttpRequest) -> HttpResponse:
    return render(request, "page.html")


urlpatterns = [path("", page)]


def main() -> None:
    extra = json.loads(sys.argv[1])
    settings.configure(
        DEBUG=False,
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=[],
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.jinja2.Jinja2",
                "DIRS": [sys.argv[2]],
                "OPTIONS": {"environment": "assetpipe.integrations.django.environment"},
            }
        ],
        **extra,
    )
    django.setup()
    client = Client(raise_request_exception=True)
    results: dict[str, object] = {}
    for url in sys.argv[3:]:
        try:
            response = client.get(url)
            results[url] = {"status": response.status_code, "body": response.content.decode()}
        except Exception as exc:  # reported to the test, which asserts on type and message
            results[url] = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
