"""The ASGI entry point: Django for pages and the API, plus routes that skip Django.

`/t/...` (tracking pixel and click) is served by tracking.fastpath: a small ASGI app with
no middleware and no ORM on the request (docs/architecture.md, "Hot path 1"). Websockets go
to Channels: the routes of config/routing.py behind an Origin check (the page's host
must be one of ALLOWED_HOSTS) and the session's user. Everything else goes to Django.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402 - after setup
from channels.routing import URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402
from tracking.fastpath import Receive, Scope, Send, tracking_app  # noqa: E402

websocket_app = AllowedHostsOriginValidator(
    AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
)


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http" and scope["path"].startswith("/t/"):
        await tracking_app(scope, receive, send)
    elif scope["type"] == "websocket":
        await websocket_app(scope, receive, send)
    elif scope["type"] == "lifespan":
        await _lifespan(receive, send)
    else:
        await django_app(scope, receive, send)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message: dict[str, Any] = await receive()
        if message["type"] == "lifespan.startup":
            tracking_app.startup()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
