"""The ASGI entry point: Django for pages and the API, plus routes that skip Django.

`/t/...` (tracking pixel and click) will be served by a small ASGI app with no middleware and
no ORM (DESIGN.md "The two hot paths"); everything else goes to Django.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django_app = get_asgi_application()

application = django_app
