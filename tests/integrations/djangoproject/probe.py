"""GET URLs through Django's test Client (and so through every middleware, whitenoise included).

argv[1]: JSON list of {"url": ..., "headers": {...}, "admin": bool}. "admin" logs a superuser in first
(after migrating the project's SQLite database). Prints a JSON list of {"status", "headers", "body"}
(body as text, or base64 when not UTF-8) or {"error": "Type: message"}.
"""

from __future__ import annotations

import base64
import json
import sys

import django


def main() -> None:
    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    requests = json.loads(sys.argv[1])
    client = Client(raise_request_exception=True)
    if any(r.get("admin") for r in requests):
        call_command("migrate", verbosity=0)
        user = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw")
        client.force_login(user)
    results: list[dict[str, object]] = []
    for r in requests:
        try:
            response = client.get(r["url"], headers=r.get("headers", {}))
        except Exception as exc:  # reported to the test, which asserts on type and message
            results.append({"error": f"{type(exc).__name__}: {exc}"})
            continue
        data = b"".join(response.streaming_content) if response.streaming else response.content
        try:
            body = data.decode("utf-8")
        except UnicodeDecodeError:
            body = "base64:" + base64.b64encode(data).decode()
        results.append({"status": response.status_code, "headers": dict(response.headers), "body": body})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
