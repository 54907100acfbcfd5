"""The fixed cast, the service switches and the browser every test suite shares.

alice: sales seat; bob: core seat; admin: super admin. Tests that need PostgreSQL or Redis
take the `services` fixture: without them the test skips, and under REQUIRE_SERVICES=1
(CI) it fails instead. Browser tests take `page` (Debian's Chromium through Playwright)
and, for pages that hold a websocket, `asgi_server` (config/testing.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("DEBUG", "1")

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from playwright.sync_api import Browser, Page, expect, sync_playwright
from rest_framework.test import APIClient

from config import testing
from config.celery import app as celery_app
from settings_admin.models import Seat, UserSettings

PASSWORD = testing.TEST_PASSWORD


@pytest.fixture(autouse=True)
def _fast_and_eager(settings: object) -> Iterator[None]:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # type: ignore[attr-defined]
    # Tasks run inline in tests; the worker itself is exercised by the services tests.
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = eager


def require_service(condition: bool, what: str) -> None:
    """Skip without `what`; fail instead under REQUIRE_SERVICES=1 (CI)."""
    if condition:
        return
    if settings.REQUIRE_SERVICES:
        pytest.fail(f"{what} is required (REQUIRE_SERVICES=1) but not configured")
    pytest.skip(f"needs {what}")


@pytest.fixture
def redis_url() -> str:
    require_service(bool(settings.REDIS_URL), "Redis (REDIS_URL)")
    return settings.REDIS_URL


@pytest.fixture
def postgres(db: None) -> None:
    require_service(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")


@pytest.fixture
def services(postgres: None, redis_url: str) -> str:
    return redis_url


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, once per test module; Playwright only drives it (never
    downloads one). Not once per run: while Playwright runs, its event loop is this
    thread's, and a later module's async_to_sync (the tracking fast path) would refuse
    to run."""
    path = testing.chromium_path()
    require_service(Path(path).exists(), f"Chromium at {path}")
    # Playwright's sync API keeps an event loop running in this thread, so Django's ORM
    # in fixtures would refuse to run; it is only the test's own thread, hence safe.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=path, args=testing.CHROMIUM_ARGS
            )
            yield browser
            browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(15_000)
    # Assertions wait as long as actions: on the shared 2-core machine the API docs'
    # schema alone can take longer than expect's own 5 s.
    expect.set_options(timeout=15_000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def asgi_server(
    django_db_setup: None, django_db_blocker: object
) -> Iterator[testing.ServerProcesses]:
    """Beacon's ASGI server (granian) and the tracking ingestor on the test database.

    Needs PostgreSQL (the processes share the test database) and Redis (hits, the channel
    layer). Tests that use it take `transactional_db` so the processes see their rows.
    """
    require_service(settings.REDIS_URL != "", "Redis (REDIS_URL)")
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        require_service(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
        with testing.asgi_server_processes() as server:
            yield server


def make_user(username: str, *, seat: str = Seat.CORE, superuser: bool = False) -> User:
    user = User.objects.create_user(
        username=username,
        email=f"{username}@beacon.example",
        password=PASSWORD,
        first_name=username.title(),
        is_superuser=superuser,
        is_staff=superuser,
    )
    UserSettings.objects.update_or_create(user=user, defaults={"seat": seat})
    return user


@pytest.fixture
def alice(db: None) -> User:
    return make_user("alice", seat=Seat.SALES)


@pytest.fixture
def bob(db: None) -> User:
    return make_user("bob", seat=Seat.CORE)


@pytest.fixture
def admin_user(db: None) -> User:
    return make_user("admin", seat=Seat.SALES, superuser=True)


def client_for(user: User) -> Client:
    """A browser's session signed in as `user`, for the pages."""
    client = Client()
    client.force_login(user)
    return client


def api_client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def alice_api(alice: User) -> APIClient:
    return api_client_for(alice)


@pytest.fixture
def bob_api(bob: User) -> APIClient:
    return api_client_for(bob)


@pytest.fixture
def admin_api(admin_user: User) -> APIClient:
    return api_client_for(admin_user)


@pytest.fixture
def anon_api() -> APIClient:
    return APIClient()
