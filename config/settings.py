"""Herald settings, read from the environment (django-environ).

Development defaults apply only when DJANGO_DEBUG is true; a production process (DEBUG off)
refuses to start without DJANGO_SECRET_KEY, DATABASE_URL and REDIS_URL.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
env_file = BASE_DIR / ".env"
if env_file.exists():
    environ.Env.read_env(env_file)

DEBUG = env.bool("DJANGO_DEBUG", default=False)

if DEBUG:
    SECRET_KEY = env.str(
        "DJANGO_SECRET_KEY", default="herald-development-only-secret-key-not-for-production"
    )
    ALLOWED_HOSTS = env.list(
        "DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"]
    )
else:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY")
    ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")

CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "campaigns",
    "labels",
    "approvals",
    "audience",
    "reports",
    "channels",
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
                "accounts.context_processors.roles",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {
    "default": env.db_url("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/herald")
    if DEBUG
    else env.db_url("DATABASE_URL"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("TEST", {})["NAME"] = env.str("DATABASE_TEST_NAME", default=None)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = (
    env.str("REDIS_URL", default="redis://127.0.0.1:6379/0") if DEBUG else env.str("REDIS_URL")
)

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="herald"),
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "campaigns:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
# The project's time zone: the calendar in which "6 months after the last active date" is counted.
TIME_ZONE = env.str("HERALD_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Herald <herald@localhost>")
# Where people reach the dashboard: links in e-mails (approval requests, decisions) start with it.
HERALD_BASE_URL = env.str("HERALD_BASE_URL", default="http://localhost:8000").rstrip("/")

# Dispatch (docs/dispatch.md): each channel's provider from the environment. An Admin's row on
# Settings › Channels (channels.ProviderConfig) takes precedence. "dry_run" does everything but the
# network call; "" means not configured (messages fail with that reason).
HERALD_PROVIDERS = {
    # "django" sends through EMAIL_URL's backend; "anymail" through django-anymail's ESP backend
    # named by HERALD_ANYMAIL_BACKEND (e.g. anymail.backends.mailgun.EmailBackend, with ANYMAIL).
    "email": {
        "provider": env.str("HERALD_EMAIL_PROVIDER", default="django"),
        "options": {"backend": env.str("HERALD_ANYMAIL_BACKEND", default="")},
        "secrets": {},
    },
    "sms": {
        "provider": env.str("HERALD_SMS_PROVIDER", default=""),
        "options": {
            "base_url": env.str("TWILIO_BASE_URL", default="https://api.twilio.com"),
            "account_sid": env.str("TWILIO_ACCOUNT_SID", default=""),
            "from": env.str("TWILIO_FROM", default=""),
            "gateway_url": env.str("SMS_GATEWAY_URL", default=""),
        },
        "secrets": {
            "auth_token": env.str("TWILIO_AUTH_TOKEN", default=""),
            "gateway_token": env.str("SMS_GATEWAY_TOKEN", default=""),
        },
    },
    # WhatsApp through Twilio: the same account, a WhatsApp-enabled sender number.
    "whatsapp": {
        "provider": env.str("HERALD_WHATSAPP_PROVIDER", default=""),
        "options": {
            "base_url": env.str("TWILIO_BASE_URL", default="https://api.twilio.com"),
            "account_sid": env.str("TWILIO_ACCOUNT_SID", default=""),
            "from": env.str("TWILIO_WHATSAPP_FROM", default=""),
        },
        "secrets": {"auth_token": env.str("TWILIO_AUTH_TOKEN", default="")},
    },
    "push": {
        "provider": env.str("HERALD_PUSH_PROVIDER", default=""),
        "options": {
            "base_url": env.str("FCM_BASE_URL", default="https://fcm.googleapis.com"),
            "project_id": env.str("FCM_PROJECT_ID", default=""),
        },
        # The service account's JSON key (its token_uri says where OAuth tokens come from).
        "secrets": {"service_account": env.str("FCM_SERVICE_ACCOUNT_JSON", default="")},
    },
    # Webhooks are configured once there is a signing secret to sign them with.
    "webhook": {
        "provider": env.str(
            "HERALD_WEBHOOK_PROVIDER",
            default="http" if env.str("HERALD_WEBHOOK_SECRET", "") else "",
        ),
        "options": {
            "timeout": env.float("HERALD_WEBHOOK_TIMEOUT", default=10.0),
            "allow_private": env.bool("HERALD_WEBHOOK_ALLOW_PRIVATE", default=False),
        },
        # whsec_...: the Standard Webhooks signing secret receivers verify with.
        "secrets": {"signing_secret": env.str("HERALD_WEBHOOK_SECRET", default="")},
    },
}
# The ESP's settings for django-anymail, as JSON ({"MAILGUN_API_KEY": "...", ...}).
ANYMAIL = env.json("ANYMAIL", default={})
# Channels sent with the dry-run adapter when no provider is configured (the demo sets it).
HERALD_DRY_RUN_CHANNELS = env.list("HERALD_DRY_RUN_CHANNELS", default=[])
# The beat's dispatch tick, in seconds; a batch's lease (renewed as it goes), in seconds.
HERALD_DISPATCH_TICK = env.float("HERALD_DISPATCH_TICK", default=5.0)
HERALD_DISPATCH_LEASE = env.int("HERALD_DISPATCH_LEASE", default=60)
HERALD_DISPATCH_BATCH = env.int("HERALD_DISPATCH_BATCH", default=2000)
# A batch queued this long (seconds) without a worker taking it is queued again: its message was
# lost (a Redis restart). Longer than a deep queue takes to drain, so it rarely repeats one.
HERALD_DISPATCH_REQUEUE_AFTER = env.int("HERALD_DISPATCH_REQUEUE_AFTER", default=300)
# Signs tracking links (opens, clicks, unsubscribes); defaults to SECRET_KEY.
HERALD_TRACKING_KEY = env.str("HERALD_TRACKING_KEY", default="")

# --- Security: production values by default, relaxed only in development. ---
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool(
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG
)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("DJANGO_CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- REST API ---
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.HasRole"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api_errors.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "config.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Herald API",
    "DESCRIPTION": "Campaigns, their lifecycle, labels, approvals and reports.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's assets come from the drf-spectacular-sidecar wheel: nothing is loaded from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Choice sets that share a field name get names of their own (a campaign's status keeps
    # the name it always had).
    "ENUM_NAME_OVERRIDES": {
        "StatusEnum": "campaigns.choices.Status",
        "RequestStatusEnum": "approvals.models.RequestStatus",
        "RequestKindEnum": "approvals.models.RequestKind",
        "ChangeKindEnum": "approvals.serializers.CHANGE_KINDS",
        "RunKindEnum": "channels.models.RunKind",
        "RunStatusEnum": "channels.models.RunStatus",
    },
}

# --- Celery ---
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL)
# The queue tasks go to when nothing routes them (the integration tests give each worker its own).
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
