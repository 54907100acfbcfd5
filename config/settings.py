"""Beacon settings, read from the environment.

Two modes (docs/architecture.md, "Modes"):
- embedded (no DATABASE_URL / REDIS_URL): SQLite in WAL mode, in-memory channel layer,
  Celery tasks run eagerly, tracking hits written straight to the database;
- services: PostgreSQL, Redis streams, channels_redis and a Celery worker.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)

# Only ever used when DEBUG is on; production refuses to start with it.
DEV_SECRET_KEY = "django-insecure-beacon-dev-only-key"  # noqa: S105 - refused when DEBUG is off
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = DEV_SECRET_KEY
if SECRET_KEY == DEV_SECRET_KEY and not DEBUG:
    raise ImproperlyConfigured(
        "The development SECRET_KEY cannot be used when DEBUG is off."
    )
# Old keys after a rotation: sessions and tracking tokens signed with them still verify.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS")

# The reverse proxies / load balancers in front (comma-separated CIDRs; empty: none).
# Only a peer in them is believed about the client's address, read from
# TRUSTED_PROXY_HEADER (X-Forwarded-For, or Forwarded): the right-most address that is
# not itself a trusted proxy (config.client_address). Tracking's network rules need it.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")
TRUSTED_PROXY_HEADER = env_str("TRUSTED_PROXY_HEADER", "X-Forwarded-For")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# Where `make run` serves (the Makefile passes its HOST and PORT on).
HOST = env_str("HOST", "127.0.0.1")
PORT = env_int("PORT", 8000)
# Absolute base of pixel and click URLs put into outgoing email and of the add-in
# manifest's URLs. Unset: the address the server listens on, so `make run PORT=9000`
# links to port 9000 (a wildcard bind is reached through localhost).
PUBLIC_BASE_URL = (
    env_str("PUBLIC_BASE_URL")
    or f"http://{'localhost' if HOST in {'0.0.0.0', '::', ''} else HOST}:{PORT}"  # noqa: S104 - compared, not bound
).rstrip("/")
# Deal amounts are in the account's one currency (ISO 4217 code), shown beside them.
CURRENCY = env_str("CURRENCY", "USD").upper()

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "crm",
    "settings_admin",
    "tracking",
    "activity",
    "addin",
]

MIDDLEWARE = [
    "config.client_address.ClientAddressMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "addin.middleware.ApiCorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tracking.middleware.SelfCookieMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
            conn_health_checks=True,
        )
    }
    # Server-side prepared statements for the queries that ask for them
    # (config.digest_cache.fetch_prepared: the cached pages' digests, on every page
    # view). Django's own queries bind on the client and are never prepared. Set
    # DB_PREPARED=0 behind a pooler that cannot keep them (PgBouncer in transaction
    # mode before 1.21): Django's default threshold, None, turns them off, and
    # fetch_prepared then plans each time.
    # Their plans are generic: the same plan for every record, made once per
    # connection. Left to choose, PostgreSQL planned the record page's digest anew on
    # every run (~1 ms, four times what running it costs), as its estimate for an
    # unknown record never beat the one for a known one. Only prepared statements
    # (and PL/pgSQL's, the timeline triggers' lookups by key) are affected.
    if env_bool("DB_PREPARED", True):
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            prepare_threshold=5, options="-c plan_cache_mode=force_generic_plan"
        )
    # DB_POOL_SIZE > 0: a psycopg pool of that many connections per process instead
    # of a persistent connection per thread. The ASGI process (`live` in the Procfile)
    # needs it: Django runs each request's sync code on a thread of its own there, and
    # per-thread connections, opened per request, pile up until PostgreSQL refuses
    # more. A request waits up to DB_POOL_TIMEOUT seconds for a free connection.
    DB_POOL_SIZE = env_int("DB_POOL_SIZE", 0)
    if DB_POOL_SIZE > 0:
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": DB_POOL_SIZE,
            "timeout": env_int("DB_POOL_TIMEOUT", 10),
        }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": {
                # WAL lets the web server read while a worker writes.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Set: services mode (Redis streams for hits, channels_redis, a real Celery worker).
# Unset: embedded mode (hits straight to the database, in-memory layers, eager tasks).
REDIS_URL = env_str("REDIS_URL")
# Under REQUIRE_SERVICES a test that needs PostgreSQL or Redis fails instead of skipping.
REQUIRE_SERVICES = env_bool("REQUIRE_SERVICES", False)

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # channels_redis's pub/sub layer (config/channel_layer.py says why).
            "BACKEND": "config.channel_layer.PubSubChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
                "prefix": env_str("CHANNELS_PREFIX", "asgi"),
            },
        }
    }
    CACHES = {
        "default": {
            # Django's Redis cache, one redis-py client per pool (config.redis_pool).
            "BACKEND": "config.redis_pool.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_PREFIX", "beacon"),
            # One pool per process, not one per ASGI request or socket (its docstring).
            "OPTIONS": {"pool_class": "config.redis_pool.SharedConnectionPool"},
        }
    }
    # Sessions read from Redis (written through to the database, which stays the
    # durable copy): a signed-in page no longer costs a session query. Only with a
    # shared cache: a per-process one would keep a signed-out session alive elsewhere.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "beacon")
# A task taken by a worker that died unacknowledged (late acks) is delivered again after
# this long (Redis transport; its default is an hour). It must exceed the longest task
# (an 80 MB message: well under a minute) plus the longest retry countdown held by a
# worker (16 s, activity.tasks.RETRY); the re-queue sweep takes such rows after 5 minutes too.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 300)
}
# `beat` in the Procfile runs these.
CELERY_BEAT_SCHEDULE = {
    "inbound-requeue-waiting": {
        "task": "activity.inbound_requeue_waiting",
        "schedule": 60.0,
    },
}

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Test servers started by the browser tests share the test database, whose users carry
# the tests' fast MD5 hashes (conftest.py); never honoured with DEBUG off.
if DEBUG and env_bool("TEST_FAST_PASSWORD_HASHER"):
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Large uploads (raw MIME up to ~60 MB) spill to disk instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 80 * 1024 * 1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # The Outlook add-in: named, revocable tokens stored as hashes.
        "addin.authentication.AddinTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "config.api.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "config.schema.Schema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Beacon CRM API",
    "DESCRIPTION": (
        "Tracked and logged email for sales teams. Errors are "
        '`{"error": CODE, "detail": ...}` with stable codes.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from our own static files: no CDN needed.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.schema.add_shared_errors",
    ],
}

# Beacon's own knobs.
# Outlook's hosts, which may frame the add-in's pane and sign-in dialog (and only those).
ADDIN_FRAME_ANCESTORS = env_list(
    "ADDIN_FRAME_ANCESTORS",
    [
        "https://outlook.office.com",
        "https://outlook.office365.com",
        "https://outlook.live.com",
        "https://outlook.cloud.microsoft",
        "https://*.officeapps.live.com",
    ],
)
# JSON request bodies (config.parsers.JSONParser): larger is 413, deeper is 400.
API_JSON_MAX_BYTES = env_int("API_JSON_MAX_BYTES", 10 * 1024 * 1024)
API_JSON_MAX_DEPTH = env_int("API_JSON_MAX_DEPTH", 32)
BEACON_BCC_DOMAIN = env_str("BEACON_BCC_DOMAIN", "bcc.beacon.localhost")
BEACON_SMTP_HOST = env_str("BEACON_SMTP_HOST", "127.0.0.1")
BEACON_SMTP_PORT = env_int("BEACON_SMTP_PORT", 2525)
# STARTTLS on the receiver (activity.smtp): a PEM certificate (chain) and its key (the
# key may be in the certificate's file). Without a certificate STARTTLS is not offered.
BEACON_SMTP_TLS_CERT = env_str("BEACON_SMTP_TLS_CERT")
BEACON_SMTP_TLS_KEY = env_str("BEACON_SMTP_TLS_KEY")
BEACON_SMTP_REQUIRE_TLS = env_bool("BEACON_SMTP_REQUIRE_TLS", False)
# Where activity.dmarc sends its SPF, DKIM and DMARC lookups: host or host:port, comma
# separated; empty: the system's resolver.
DMARC_DNS_SERVERS = env_str("DMARC_DNS_SERVERS")
# How much of one received message is read (activity.parser); the excess is left out
# and noted on the timeline item.
INBOUND_MAX_PARTS = env_int("INBOUND_MAX_PARTS", 1000)
INBOUND_MAX_DEPTH = env_int("INBOUND_MAX_DEPTH", 20)
INBOUND_MAX_HEADERS = env_int("INBOUND_MAX_HEADERS", 500)
INBOUND_MAX_HEADER_BYTES = env_int("INBOUND_MAX_HEADER_BYTES", 256 * 1024)
INBOUND_MAX_ATTACHMENTS = env_int("INBOUND_MAX_ATTACHMENTS", 200)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)

# Tracking (T1-T10): the hit stream, the classifier's windows, the ingestor's batches.
TRACKING_STREAM = env_str("TRACKING_STREAM", "tracking:hits")
TRACKING_CONSUMER_GROUP = env_str("TRACKING_CONSUMER_GROUP", "tracking-ingest")
# The signed cookie that marks a signed-in Beacon user's browser (verdict `self`).
TRACKING_SELF_COOKIE = env_str("TRACKING_SELF_COOKIE", "beacon_self")
# T5 `duplicate`: the same open/click from the same IP and agent within this window.
TRACKING_DUPLICATE_SECONDS = env_int("TRACKING_DUPLICATE_SECONDS", 60)
# T7: clicks this soon after Sent are a gateway scanning the message.
TRACKING_SCANNER_CLICK_SECONDS = env_int("TRACKING_SCANNER_CLICK_SECONDS", 10)
# T7: different links of one email clicked from one IP within this many seconds.
TRACKING_BURST_SECONDS = env_int("TRACKING_BURST_SECONDS", 2)
# Stream entries per ingest batch, at most; each entry is one batch of hits from the
# fast path (1 to 2,000 hits).
TRACKING_INGEST_ENTRIES = env_int("TRACKING_INGEST_ENTRIES", 200)
# Hits per ingest batch: reading stops once this many are in hand.
TRACKING_INGEST_HITS = env_int("TRACKING_INGEST_HITS", 5000)
# A hit pending this long on a consumer is taken over by another (crash recovery).
TRACKING_CLAIM_IDLE_MS = env_int("TRACKING_CLAIM_IDLE_MS", 30_000)
# Services mode: where each web worker journals (fsynced) the hits the Redis stream could
# not take, until its replayer moves them into the stream. Local disk that outlives the
# process (a volume in containers); every worker of a host shares the directory.
TRACKING_SPILL_DIR = env_str(
    "TRACKING_SPILL_DIR", str(BASE_DIR / "var" / "tracking-spill")
)
