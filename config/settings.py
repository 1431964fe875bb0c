"""Django settings, read from the environment in this one place.

Every variable is read through `config.environment.env`, with its default and meaning: the
table in docs/configuration.md is written from them (`make docs`).
"""

from pathlib import Path

import dj_database_url

from config.environment import env, env_bool

BASE_DIR = Path(__file__).resolve().parent.parent
STATE_DIR = Path(
    env(
        "WIRELAB_STATE_DIR",
        str(BASE_DIR / ".wirelab"),
        "secret key, SQLite database, logs, collected static files",
        shown="`.wirelab`",
    )
)


def _pool_sizes(name: str, value: str) -> dict[str, int]:
    """`IMAGE=COUNT,IMAGE=COUNT` -> {image: count}."""
    from django.core.exceptions import ImproperlyConfigured

    sizes = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        image, _, count = item.rpartition("=")
        if not image or not count.isdigit():
            raise ImproperlyConfigured(f"{name}: '{item}' is not IMAGE=COUNT (e.g. wirelab/node:busybox=8)")
        sizes[image] = int(count)
    return sizes


def _secret_key() -> str:
    key = env("WIRELAB_SECRET_KEY", "", "Django's secret key", shown="generated into `.wirelab/secret-key`")
    if key:
        return key
    path = STATE_DIR / "secret-key"
    if not path.exists():
        import secrets

        STATE_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("WIRELAB_DEBUG", False, "Django debug mode")
ALLOWED_HOSTS = env(
    "WIRELAB_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]", "host names the server answers to"
).split(",")
CSRF_TRUSTED_ORIGINS = [
    o
    for o in env("WIRELAB_CSRF_TRUSTED_ORIGINS", "", "extra origins for forms behind a proxy").split(",")
    if o
]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "labs.store.apps.StoreConfig",
    "labs",
    "labs.classroom.apps.ClassroomConfig",
    "labs.classroom.apps.LmsRegistrationsConfig",  # PyLTI1p3: LMS registrations (LTI 1.3), in the admin
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "labs" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "labs.classroom.roles.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env(
            "DATABASE_URL",
            f"sqlite:///{STATE_DIR / 'wirelab.sqlite3'}",
            "the database; e.g. `postgres://user:pw@127.0.0.1:5432/wirelab`",
            shown="`sqlite:///.wirelab/wirelab.sqlite3`",
        ),
        conn_max_age=0,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The web server, the lab host's worker and its monitor all write: WAL lets readers go on
    # beside a writer, and writers wait their turn instead of failing with "locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0", "channel layer (and Celery broker unless set apart)")
# `memory` keeps the channel layer inside one process: for `make check`, which needs no services.
WIRELAB_CHANNEL_LAYER = env(
    "WIRELAB_CHANNEL_LAYER", "redis", "`memory` keeps the channel layer in one process (`make check` only)"
)
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # redis-py's default socket timeout (5 s) equals channels_redis's blocking-pop timeout
        # (5 s): a quiet socket then fails its read and the consumer dies. Wait longer.
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30, "socket_connect_timeout": 5}]},
    }
}

if WIRELAB_CHANNEL_LAYER == "memory":
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Limits (throttles, failure counters, console slots, viewer caps) count in Redis, shared by
# every web process (config/cache.py); `make check`, which has no Redis, counts in the process.
CACHES = {
    "default": {
        "BACKEND": "config.cache.LimitsCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "wirelab-cache",
        "OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2},
    }
}
if WIRELAB_CHANNEL_LAYER == "memory":
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL, "Celery broker", shown="`REDIS_URL`")
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# The queue of the lab host this process runs on; each lab host consumes its own.
WIRELAB_LABHOST = env(
    "WIRELAB_LABHOST",
    "local",
    "the Celery queue this lab host consumes (and `<name>.slow` for commands, captures and traces, "
    "`<name>.grading` for checks); `labhost run --name` sets it",
)
# Where other lab hosts reach this one, and how many lab containers it may hold (`labs.fleet`).
WIRELAB_UNDERLAY = (
    env(
        "WIRELAB_UNDERLAY",
        "",
        "the address other lab hosts reach this one on (`labhost run --underlay`)",
        shown="none",
    )
    or None
)
# The network namespace holding that address, where the VXLAN tunnels stitching a lab across lab
# hosts start ('' : the machine's own; a name in /var/run/netns when lab hosts share a machine).
WIRELAB_UNDERLAY_NETNS = env(
    "WIRELAB_UNDERLAY_NETNS",
    "",
    "the network namespace holding that address, where stitching tunnels start (`labhost run "
    "--underlay-netns`; for several lab hosts on one machine)",
    shown="the machine's own",
)
# Where the lab host keeps its locks, warm-pool claims, running captures and CNI state.
WIRELAB_RUN_DIR = env(
    "WIRELAB_RUN_DIR",
    "/run/wirelab",
    "where the lab host keeps its locks, warm-pool claims, running captures and CNI state "
    "(each lab host on one machine needs its own)",
)
# The underlay's MTU: a segment stitched over it carries 50 bytes less (the VXLAN header).
WIRELAB_UNDERLAY_MTU = int(
    env("WIRELAB_UNDERLAY_MTU", "1500", "the underlay's MTU: stitched segments carry 50 bytes less")
)
WIRELAB_LABHOST_CONTAINERS = int(
    env(
        "WIRELAB_LABHOST_CONTAINERS",
        "500",
        "lab containers this lab host may hold at once (`labhost run --containers`); a lab that does not "
        "fit anywhere now waits for room",
    )
)
# A lab host's worker says it is alive this often; one silent this long is lost.
WIRELAB_HEARTBEAT_SECONDS = float(
    env("WIRELAB_HEARTBEAT_SECONDS", "5", "how often a lab host's worker says it is alive")
)
WIRELAB_LABHOST_LOST_SECONDS = float(
    env("WIRELAB_LABHOST_LOST_SECONDS", "30", "a lab host silent this long is lost, and its labs say so")
)
# A lab host takes a new lab only with this much memory per container of it available, beyond
# its reserve (as it said at its last heartbeat).
WIRELAB_MEMORY_PER_CONTAINER_MB = int(
    env(
        "WIRELAB_MEMORY_PER_CONTAINER_MB",
        "32",
        "a lab host takes a new lab only with this much available memory per container of it (as its last "
        "heartbeat said), beyond its reserve",
    )
)
WIRELAB_LABHOST_MEMORY_RESERVE_MB = int(
    env("WIRELAB_LABHOST_MEMORY_RESERVE_MB", "512", "memory a lab host keeps beyond its labs' containers")
)
# New labs go to the least loaded lab host (spread) or the fullest that still has room (pack).
WIRELAB_PLACEMENT = env(
    "WIRELAB_PLACEMENT",
    "spread",
    "new labs go to the least loaded lab host (`spread`) or the fullest that still has room (`pack`)",
)
# Warm sandboxes (worker/pool.py): started sandboxes each lab host keeps per image, which
# deploys claim instead of starting their own ("IMAGE=COUNT,..."; empty: none kept), at most
# WIRELAB_POOL_MAX together with what teachers prepared (0: deploys never claim); topped up
# every WIRELAB_POOL_INTERVAL seconds while no deploy runs on the lab host.
WIRELAB_POOL = _pool_sizes(
    "WIRELAB_POOL",
    env(
        "WIRELAB_POOL",
        "wirelab/node:busybox=8",
        "warm sandboxes a lab host keeps started per image (`IMAGE=COUNT,...`; empty: none)",
    ),
)
WIRELAB_POOL_MAX = int(
    env(
        "WIRELAB_POOL_MAX",
        "200",
        "most warm sandboxes a lab host keeps, with what teachers prepared (0: deploys never claim)",
    )
)
WIRELAB_POOL_INTERVAL = float(
    env(
        "WIRELAB_POOL_INTERVAL",
        "5",
        "seconds between top-ups of the warm sandboxes, which wait while a deploy runs",
    )
)
# An allowed image a lab host lacks is pulled from its registry when the registry matches one
# of these patterns ("docker.io", "registry.example.org:5000", "*"; empty: never pulled, the
# deploy fails and says so), refused when its layers add up to more than WIRELAB_IMAGE_MAX_MB.
WIRELAB_IMAGE_PULL_FROM = tuple(
    p.strip()
    for p in env(
        "WIRELAB_IMAGE_PULL_FROM",
        "*",
        "registries a lab host pulls allowed images it lacks from (patterns, comma-separated, e.g. "
        "`docker.io,registry.example.org:5000`; empty: never pulls)",
    ).split(",")
    if p.strip()
)
WIRELAB_IMAGE_MAX_MB = int(
    env("WIRELAB_IMAGE_MAX_MB", "4096", "largest image a lab host pulls (its layers added up)")
)

# A console with no keystrokes for this long is closed.
WIRELAB_CONSOLE_IDLE_SECONDS = int(
    env("WIRELAB_CONSOLE_IDLE_SECONDS", "900", "a console with no keystrokes for this long is closed")
)
# Largest topology document accepted by the importer, API and CLI, in bytes.
WIRELAB_MAX_DOCUMENT_BYTES = int(
    env("WIRELAB_MAX_DOCUMENT_BYTES", "1000000", "largest lab document accepted")
)

# Limits per user, so one student cannot take the lab host from the others (staff are exempt).
WIRELAB_QUOTA_RUNNING_LABS = int(
    env("WIRELAB_QUOTA_RUNNING_LABS", "3", "labs one user (not staff) may have running or starting")
)
WIRELAB_QUOTA_NODES = int(env("WIRELAB_QUOTA_NODES", "150", "nodes across one user's running labs"))
WIRELAB_MAX_JOBS_IN_FLIGHT = int(
    env("WIRELAB_MAX_JOBS_IN_FLIGHT", "10", "controls and commands one user may have queued or running")
)
WIRELAB_MAX_CAPTURES_IN_FLIGHT = int(
    env("WIRELAB_MAX_CAPTURES_IN_FLIGHT", "2", "captures one user may have under way")
)
WIRELAB_MAX_LABS_PER_USER = int(env("WIRELAB_MAX_LABS_PER_USER", "100", "labs one user may keep"))
WIRELAB_MAX_STORED_BYTES_PER_USER = int(
    env("WIRELAB_MAX_STORED_BYTES_PER_USER", "20000000", "bytes of lab documents one user may keep")
)
# Accounts made with course codes from one address in an hour (a class behind one NAT signs up
# together): each account multiplies every per-user share.
WIRELAB_SIGNUPS_PER_ADDRESS = int(
    env("WIRELAB_SIGNUPS_PER_ADDRESS", "60", "accounts made with course codes from one address in an hour")
)
WIRELAB_MAX_CONSOLES_PER_USER = int(
    env("WIRELAB_MAX_CONSOLES_PER_USER", "4", "consoles one user may have open")
)
WIRELAB_SNAPSHOTS_PER_USER = float(
    env(
        "WIRELAB_SNAPSHOTS_PER_USER",
        "4",
        "live snapshots built per second for one user over all their sockets (per web process)",
    )
)  # per second
WIRELAB_CONSOLE_OUTPUT_RATE = int(
    env(
        "WIRELAB_CONSOLE_OUTPUT_RATE",
        "4096",
        "bytes per second a console relays after its burst; a command printing more waits on its terminal",
    )
)  # bytes/s
WIRELAB_CONSOLE_OUTPUT_BURST = int(
    env("WIRELAB_CONSOLE_OUTPUT_BURST", "65536", "bytes a console relays at once")
)  # bytes
# Jobs of one user a lab host's worker runs at once (per queue); the others wait their turn
# at the end of the queue, trying again after this many seconds. Staff are exempt.
WIRELAB_LABHOST_JOBS_PER_USER = int(
    env(
        "WIRELAB_LABHOST_JOBS_PER_USER",
        "2",
        "jobs of one user (not staff) a lab host runs at once per queue, always fewer than its pool has; "
        "the rest wait their turn behind other users'",
    )
)
WIRELAB_FAIR_SHARE_RETRY_SECONDS = float(
    env(
        "WIRELAB_FAIR_SHARE_RETRY_SECONDS",
        "0.5",
        "how soon a job put back behind other users' is tried again",
    )
)
# A deploy or destroy still at work after this long stops, fails and is undone.
WIRELAB_OPERATION_DEADLINE = float(
    env(
        "WIRELAB_OPERATION_DEADLINE",
        "900",
        "seconds after which a deploy or destroy still at work stops, fails and is undone (a destroy asked "
        "for stops a deploy at once)",
    )
)
# A lab host's worker takes down what belongs to deleted labs this often (0: never).
WIRELAB_GC_INTERVAL = float(
    env(
        "WIRELAB_GC_INTERVAL",
        "900",
        "seconds between a lab host's collections of what deleted labs left (0: never)",
    )
)
# A node that wrote more than this to its own filesystem is stopped; checked this often (0: never).
WIRELAB_NODE_DISK_LIMIT_MB = int(
    env(
        "WIRELAB_NODE_DISK_LIMIT_MB",
        "512",
        "a node that wrote more than this to its own filesystem is stopped",
    )
)
WIRELAB_USER_DISK_LIMIT_MB = int(
    env(
        "WIRELAB_USER_DISK_LIMIT_MB",
        "4096",
        "while one user's nodes on a lab host wrote more than this in all, their biggest writers are stopped",
    )
)
WIRELAB_DISK_CHECK_INTERVAL = float(
    env("WIRELAB_DISK_CHECK_INTERVAL", "60", "seconds between checks of what nodes wrote (0: never)")
)
# Share links: open ones per lab, viewer sockets per link and per address, and the pages that
# may frame the embed (a CSP frame-ancestors list; empty: any page).
WIRELAB_SHARE_LINKS_PER_LAB = int(
    env("WIRELAB_SHARE_LINKS_PER_LAB", "20", "open (not revoked, not expired) share links one lab may have")
)
WIRELAB_VIEWERS_PER_LINK = int(
    env("WIRELAB_VIEWERS_PER_LINK", "200", "view sockets one share link may have open (per web process)")
)
WIRELAB_VIEWERS_PER_ADDRESS = int(
    env("WIRELAB_VIEWERS_PER_ADDRESS", "100", "view sockets one address may have open (per web process)")
)
WIRELAB_EMBED_ANCESTORS = env(
    "WIRELAB_EMBED_ANCESTORS",
    "",
    "pages that may frame `/s/embed/` (a CSP `frame-ancestors` list); empty: any",
)
# How long a lab host keeps an operation's outcome while the database is away, trying again.
# classrooms: labs untouched this long are taken down (0: never); upkeep runs this often (s)
WIRELAB_IDLE_LAB_MINUTES = int(
    env(
        "WIRELAB_IDLE_LAB_MINUTES",
        "120",
        "a lab of a user (not staff) untouched this long is taken down (0: never)",
    )
)
WIRELAB_CLASSROOM_INTERVAL = float(
    env(
        "WIRELAB_CLASSROOM_INTERVAL",
        "15",
        "seconds between a lab host's classroom rounds: idle labs, closed exercises, automatic checks",
    )
)
WIRELAB_DATABASE_PATIENCE = float(
    env(
        "WIRELAB_DATABASE_PATIENCE",
        "600",
        "seconds a lab host keeps an operation's outcome while the database is away, trying again",
    )
)

# Behind TLS (a proxy that sets X-Forwarded-Proto): cookies only over HTTPS.
if env_bool(
    "WIRELAB_SECURE_COOKIES", False, "behind TLS: cookies over HTTPS only, trust `X-Forwarded-Proto`"
):
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = STATE_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "frontend" / "static"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "labs.api.errors.exception_handler",
    # Throttles count the connection's address, not what a client writes in X-Forwarded-For,
    # unless that many proxies of the admin's add it.
    "NUM_PROXIES": int(
        env(
            "WIRELAB_PROXIES",
            "0",
            "reverse proxies in front of the web server: throttles count the address the last of "
            "them adds to `X-Forwarded-For` (0: the connection's own address)",
        )
    ),
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("WIRELAB_API_RATE_ANON", "30/minute", "API requests of one address not logged in"),
        "user": env("WIRELAB_API_RATE_USER", "1200/minute", "API requests of one user"),
        # each stop, start or restart costs the lab host's Docker engine seconds of work
        "node_actions": env(
            "WIRELAB_NODE_ACTION_RATE", "12/minute", "node stops, starts and restarts one user may ask for"
        ),
        # share links: making them (per user) and using them (per address, hits and misses alike)
        "share_links": env("WIRELAB_SHARE_LINK_RATE", "30/hour", "share links one user may make"),
        "share_use": env(
            "WIRELAB_SHARE_USE_RATE",
            "120/minute",
            "share-link uses (pages' API calls, view sockets, clones) from one address, unknown tokens "
            "counted alike",
        ),
        "join": env(
            "WIRELAB_JOIN_RATE",
            "30/hour",
            "join codes one user may try over the API (the `/join/` page allows 20 wrong codes per address "
            "per hour)",
        ),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Wirelab API",
    "DESCRIPTION": "Labs, their topology, validation, import and export.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "OAS_VERSION": "3.1.0",  # the lab document's schema uses JSON Schema's null type
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "labs.api.schema.add_document_schema",
    ],
}
# A request body may be as large as the largest document plus a little framing.
DATA_UPLOAD_MAX_MEMORY_SIZE = WIRELAB_MAX_DOCUMENT_BYTES + 64_000

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("WIRELAB_LOG_LEVEL", "INFO", "log level")},
}
