"""Qianshu settings: read from environment variables only (see README, "Configuration")."""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from qianshu.config import env_bool, env_int, env_list, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(env_str("QIANSHU_DATA_DIR", str(Path.cwd() / "var"))).resolve()

# Off unless explicitly switched on (``make run`` does, for local development only).
DEBUG = env_bool("QIANSHU_DEBUG", False)


def _dev_secret(name: str, nbytes: int) -> str:
    """Development only: a random secret persisted under DATA_DIR so restarts keep keys usable."""
    path = DATA_DIR / "dev-secrets.json"
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    if name not in stored:
        stored[name] = base64.urlsafe_b64encode(secrets.token_bytes(nbytes)).decode()
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
    return stored[name]


def _required_secret(name: str, nbytes: int) -> str:
    value = env_secret(name)
    if value:
        return value
    if DEBUG:
        return _dev_secret(name, nbytes)
    raise ImproperlyConfigured(
        f"{name} (or {name}_FILE) must be set: Qianshu refuses to start without its secrets "
        "outside development mode (QIANSHU_DEBUG=1)."
    )


SECRET_KEY = _required_secret("QIANSHU_SECRET_KEY", 48)
# 32-byte key (base64) that wraps software keys (CA, seals) and, combined with each person's PIN,
# person keys. Losing it makes every wrapped key unusable: back it up like a CA key.
MASTER_KEY = _required_secret("QIANSHU_MASTER_KEY", 32)

PUBLIC_URL = env_str("QIANSHU_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
ALLOWED_HOSTS = env_list("QIANSHU_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("QIANSHU_CSRF_TRUSTED_ORIGINS", [PUBLIC_URL])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "ninja",
    "qianshu.core",
    "qianshu.accounts",
    "qianshu.orgs",
    "qianshu.envelopes",
    "qianshu.doctemplates",
    "qianshu.employment",
    "qianshu.storage",
    "qianshu.pki",
    "qianshu.verification",
    "qianshu.notifications",
    "qianshu.identity",
    "qianshu.webhooks",
    "qianshu.api",
    "qianshu.backoffice",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Outside WhiteNoise, so that static files carry the policy too.
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Inside WhiteNoise: static files keep their long cache lifetime.
    "qianshu.core.middleware.PrivacyHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # /api/v1/: idempotent POSTs, the per-key call log, problem details for every error (in
    # the language just chosen, around the NUL refusal below).
    "qianshu.api.middleware.ApiMiddleware",
    # After the language is chosen (its message is translated), before anything reads input.
    "qianshu.core.middleware.NulCharacterMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "qianshu.urls"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:profile"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
WSGI_APPLICATION = "qianshu.wsgi.application"
ASGI_APPLICATION = "qianshu.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "qianshu.core.context_processors.shell",
                "qianshu.orgs.context.switcher",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        # It holds the database password: like the other secrets, DATABASE_URL_FILE may name a
        # file holding it (deploy/compose.yaml).
        env_secret("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'qianshu.sqlite3'}",
        conn_max_age=env_int("QIANSHU_DB_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _pg_options = DATABASES["default"].setdefault("OPTIONS", {})
    if not env_bool("QIANSHU_DB_JIT", False):
        # PostgreSQL's JIT compiles a query whose estimated cost is high — a deep page of a
        # long list — to machine code before running it: tens of milliseconds spent on
        # queries that run in a few. Off for the platform's sessions; QIANSHU_DB_JIT=1 keeps
        # the server's setting (also for a connection pooler that refuses startup options).
        _pg_options["options"] = "-c jit=off"
    if env_bool("QIANSHU_DB_PREPARED", True):
        # Parameters bound by the server, and a statement run a third time on a connection
        # kept prepared (psycopg's prepare_threshold): PostgreSQL then parses and plans it
        # once, not on every run. A signing step is ~19 short statements whose planning costs
        # about what they do. QIANSHU_DB_PREPARED=0 binds on the client, unprepared (a pooler
        # in transaction mode older than PgBouncer 1.21 cannot hold a session's prepared
        # statements).
        _pg_options.update(server_side_binding=True, prepare_threshold=2)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the web process and the worker share the file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TASKS = {
    "default": {
        "BACKEND": env_str("QIANSHU_TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default", "signing", "notifications", "webhooks"],
    }
}
# A job still running this many seconds after a worker claimed it belongs to a worker that died:
# the envelope timers queue it again (qianshu.core.taskqueue). Longer than any job runs.
QIANSHU_TASK_LEASE_SECONDS = env_int("QIANSHU_TASK_LEASE_SECONDS", 900)
# A job whose workers died this many times is marked failed instead of queued again.
QIANSHU_TASK_MAX_CLAIMS = env_int("QIANSHU_TASK_MAX_CLAIMS", 3)

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("QIANSHU_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Only needed for `collectstatic` (e.g. to serve from a CDN); WhiteNoise serves from the apps.
STATIC_ROOT = env_str("QIANSHU_STATIC_ROOT") or None
# WhiteNoise serves the apps' static files straight from the package (no collectstatic step).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Blob store ---------------------------------------------------------------------------
QIANSHU_STORAGE = env_str("QIANSHU_STORAGE", "local")  # local | s3
QIANSHU_STORAGE_DIR = Path(env_str("QIANSHU_STORAGE_DIR", str(DATA_DIR / "blobs")))
QIANSHU_S3 = {
    "bucket_name": env_str("QIANSHU_S3_BUCKET"),
    "endpoint_url": env_str("QIANSHU_S3_ENDPOINT_URL") or None,
    "region_name": env_str("QIANSHU_S3_REGION") or None,
    "access_key": env_secret("QIANSHU_S3_ACCESS_KEY") or None,
    "secret_key": env_secret("QIANSHU_S3_SECRET_KEY") or None,
    "location": env_str("QIANSHU_S3_PREFIX", "blobs"),
}

# --- Keys and PKI -------------------------------------------------------------------------
QIANSHU_KEYSTORE = env_str("QIANSHU_KEYSTORE", "software")  # software | pkcs11
QIANSHU_PKCS11 = {
    "lib": env_str("QIANSHU_PKCS11_LIB", "/usr/lib/softhsm/libsofthsm2.so"),
    "token": env_str("QIANSHU_PKCS11_TOKEN", "qianshu"),
    "pin": env_secret("QIANSHU_PKCS11_PIN"),
}
QIANSHU_PKI_NAME = env_str("QIANSHU_PKI_NAME", "Qianshu")
# Archive renewal (qianshu renew-archives): renew a completed document's long-term validity when
# its newest time-stamp's TSA certificate expires within this many days, or when that
# time-stamp relies on one of the weakening algorithms (digest names, TSA key types).
QIANSHU_ARCHIVE_RENEW_DAYS = env_int("QIANSHU_ARCHIVE_RENEW_DAYS", 365)
QIANSHU_ARCHIVE_WEAK_ALGORITHMS = env_list(
    "QIANSHU_ARCHIVE_WEAK_ALGORITHMS", ["md5", "sha1", "rsa-1024"]
)
# PEM bundle of extra roots the verifier trusts besides the platform root.
QIANSHU_EXTRA_TRUST_ROOTS = env_str("QIANSHU_EXTRA_TRUST_ROOTS")
# 文档验证 (/verify/, anonymous): the largest file accepted and uploads per client address
# per hour. The file is verified in the limited child process and never stored.
QIANSHU_VERIFY_MAX_BYTES = env_int("QIANSHU_VERIFY_MAX_BYTES", 20 * 1024 * 1024)
QIANSHU_VERIFY_PER_HOUR = env_int("QIANSHU_VERIFY_PER_HOUR", 30)

# --- Open API -------------------------------------------------------------------------------
QIANSHU_API_PER_MINUTE = env_int("QIANSHU_API_PER_MINUTE", 600)  # calls per key

# --- Webhooks -------------------------------------------------------------------------------
# Private, loopback and other non-public target addresses (and plain http) are refused unless
# this is on: intranet deployments and tests.
QIANSHU_WEBHOOK_ALLOW_PRIVATE = env_bool("QIANSHU_WEBHOOK_ALLOW_PRIVATE", False)
QIANSHU_WEBHOOK_TIMEOUT = env_int("QIANSHU_WEBHOOK_TIMEOUT", 10)  # seconds per delivery
# An endpoint failing this many days without one success is disabled (admins are told).
QIANSHU_WEBHOOK_DISABLE_AFTER_DAYS = env_int("QIANSHU_WEBHOOK_DISABLE_AFTER_DAYS", 5)

# --- Upload limits --------------------------------------------------------------------------
QIANSHU_MAX_PDF_BYTES = env_int("QIANSHU_MAX_PDF_BYTES", 50 * 1024 * 1024)
QIANSHU_MAX_PDF_PAGES = env_int("QIANSHU_MAX_PDF_PAGES", 500)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- E-mail and SMS -------------------------------------------------------------------------
EMAIL_BACKEND = env_str(
    "QIANSHU_EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("QIANSHU_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("QIANSHU_EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("QIANSHU_EMAIL_USER")
EMAIL_HOST_PASSWORD = env_secret("QIANSHU_EMAIL_PASSWORD")
EMAIL_USE_TLS = env_bool("QIANSHU_EMAIL_TLS", False)
EMAIL_USE_SSL = env_bool("QIANSHU_EMAIL_SSL", False)
DEFAULT_FROM_EMAIL = env_str("QIANSHU_EMAIL_FROM", "Qianshu <noreply@localhost>")
QIANSHU_SMS_BACKEND = env_str("QIANSHU_SMS_BACKEND", "console" if DEBUG else "http")
QIANSHU_SMS_GATEWAY_URL = env_str("QIANSHU_SMS_GATEWAY_URL")
QIANSHU_SMS_GATEWAY_SECRET = env_secret("QIANSHU_SMS_GATEWAY_SECRET")
QIANSHU_SMS_GATEWAY_TIMEOUT = env_int("QIANSHU_SMS_GATEWAY_TIMEOUT", 10)  # seconds
# Carrier-registered signature put before every SMS text; empty if the gateway adds it itself.
QIANSHU_SMS_SIGNATURE = env_str("QIANSHU_SMS_SIGNATURE", "【签署】")
QIANSHU_SMS_FILE = Path(env_str("QIANSHU_SMS_FILE", str(DATA_DIR / "sms.log")))
# Seconds; a hung SMTP server must not stall a notifications worker.
EMAIL_TIMEOUT = env_int("QIANSHU_EMAIL_TIMEOUT", 30)
# Delivery attempts per message (backoff 30 s, 2 min, 10 min, 1 h, 6 h, 12 h, 24 h) before "failed".
QIANSHU_NOTIFY_MAX_ATTEMPTS = env_int("QIANSHU_NOTIFY_MAX_ATTEMPTS", 8)
# Keep the text of sensitive messages (codes) after delivery; off in production.
QIANSHU_OUTBOX_KEEP_SENSITIVE = env_bool("QIANSHU_OUTBOX_KEEP_SENSITIVE", DEBUG)
# Caps on SMS codes (besides one per 60 s per phone): per phone and per client IP, per hour.
QIANSHU_SMS_LIMITS = {
    "per_phone_hour": env_int("QIANSHU_SMS_PER_PHONE_HOUR", 10),
    "per_ip_hour": env_int("QIANSHU_SMS_PER_IP_HOUR", 30),
}
# Number of reverse proxies in front of the web processes that append to X-Forwarded-For.
QIANSHU_TRUSTED_PROXY_HOPS = env_int("QIANSHU_TRUSTED_PROXY_HOPS", 0)
# Re-authentication (SMS code or password) stays fresh this long before sensitive changes.
QIANSHU_REAUTH_SECONDS = env_int("QIANSHU_REAUTH_SECONDS", 600)

# --- Identity -------------------------------------------------------------------------------
# Personal real-name verification: `sandbox` (development; confirms anybody, see
# qianshu.identity.providers.sandbox) or `http` (the signed JSON identity gateway).
QIANSHU_IDENTITY_PROVIDER = env_str("QIANSHU_IDENTITY_PROVIDER", "sandbox" if DEBUG else "http")
# The sandbox is refused when DEBUG is off unless this is set (a staging system).
QIANSHU_IDENTITY_SANDBOX_ALLOWED = env_bool("QIANSHU_IDENTITY_SANDBOX_ALLOWED", False)
QIANSHU_IDENTITY_GATEWAY_URL = env_str("QIANSHU_IDENTITY_GATEWAY_URL")
QIANSHU_IDENTITY_GATEWAY_SECRET = env_secret("QIANSHU_IDENTITY_GATEWAY_SECRET")
QIANSHU_IDENTITY_GATEWAY_TIMEOUT = env_int("QIANSHU_IDENTITY_GATEWAY_TIMEOUT", 15)  # seconds
# Verification attempts (any method) per user per 24 hours.
QIANSHU_IDENTITY_ATTEMPTS_PER_DAY = env_int("QIANSHU_IDENTITY_ATTEMPTS_PER_DAY", 10)
# Argon2id cost of the key derived from each signing PIN (stored with each wrapped key, so
# raising it later only affects keys wrapped from then on).
QIANSHU_PIN_ARGON2 = {
    "time_cost": env_int("QIANSHU_PIN_ARGON2_TIME_COST", 3),
    "memory_kib": env_int("QIANSHU_PIN_ARGON2_MEMORY_KIB", 64 * 1024),
    "parallelism": env_int("QIANSHU_PIN_ARGON2_PARALLELISM", 1),
}
# After a phone change a PIN reset (and, after an operator's change, a first PIN or SMS-code
# signing) waits this many hours, so that taking over a phone gives no new signing key at once.
QIANSHU_PIN_RESET_HOLD_HOURS = env_int("QIANSHU_PIN_RESET_HOLD_HOURS", 72)

# --- Security -------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("QIANSHU_SESSION_SECONDS", 7 * 24 * 3600)
SESSION_COOKIE_SECURE = PUBLIC_URL.startswith("https://")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PUBLIC_URL.startswith("https://"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HSTS (seconds; 0 = off) only takes effect with an https QIANSHU_PUBLIC_URL: browsers then
# refuse plain http to this host for that long. `qianshu check --deploy` warns while it is off.
QIANSHU_HSTS_SECONDS = env_int("QIANSHU_HSTS_SECONDS", 0)
QIANSHU_HSTS_INCLUDE_SUBDOMAINS = env_bool("QIANSHU_HSTS_INCLUDE_SUBDOMAINS", False)
QIANSHU_HSTS_PRELOAD = env_bool("QIANSHU_HSTS_PRELOAD", False)
SECURE_HSTS_SECONDS = QIANSHU_HSTS_SECONDS if PUBLIC_URL.startswith("https://") else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = QIANSHU_HSTS_INCLUDE_SUBDOMAINS
SECURE_HSTS_PRELOAD = QIANSHU_HSTS_PRELOAD
# Redirect plain http requests to https (usually the reverse proxy does it). The PKI endpoints
# stay reachable over http: OCSP and CRL clients do not follow redirects.
QIANSHU_SSL_REDIRECT = env_bool("QIANSHU_SSL_REDIRECT", False)
SECURE_SSL_REDIRECT = QIANSHU_SSL_REDIRECT
SECURE_REDIRECT_EXEMPT = [r"^pki/"]
# Django's own HSTS / redirect deploy checks are replaced by qianshu.W020 / W021, which name
# the QIANSHU_* settings; more check ids to silence can be listed in QIANSHU_SILENCED_CHECKS.
SILENCED_SYSTEM_CHECKS = [
    "security.W004",
    "security.W008",
    *env_list("QIANSHU_SILENCED_CHECKS", []),
]
# Content-Security-Policy (django-csp): no inline script anywhere, nothing from other origins.
# Style attributes stay allowed (templates set aspect-ratio and colours per page and field);
# <style> elements are refused where the browser knows style-src-elem.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "style-src-elem": ["'self'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("QIANSHU_LOG_LEVEL", "INFO")},
    # pyHanko logs every failed path build with a traceback; the verifier reports it instead.
    "loggers": {
        "pyhanko": {"level": "ERROR"},
        # One INFO line per webhook POST otherwise (the attempt is recorded in the database).
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "pyhanko_certvalidator": {"level": "ERROR"},
        # fontTools logs every glyph of every subset (evidence reports) at INFO.
        "fontTools": {"level": "WARNING"},
    },
}

# --- Envelopes --------------------------------------------------------------------------------
# 批量签署 of many tasks is spread over this many forked processes (PostgreSQL only; the
# signer's unlocked key never leaves the web process's memory). Default: one per core.
QIANSHU_BATCH_PROCESSES = env_int("QIANSHU_BATCH_PROCESSES", min(os.cpu_count() or 1, 4))
# 批量发起: send_batch tasks enqueued per batch, so that this many task workers share its rows
# (each row is claimed once).
QIANSHU_BULK_SENDERS = env_int("QIANSHU_BULK_SENDERS", 2)
# The envelope timers time-stamp the heads of every audit chain that moved this often
# (seconds); check-audit warns when the last such anchor is older than twice that.
QIANSHU_AUDIT_ANCHOR_SECONDS = env_int("QIANSHU_AUDIT_ANCHOR_SECONDS", 3600)
# 发起签署 notifies people by SMS in the platform's name: envelopes a person may send, and
# envelopes sent in one organisation's name, in any 24 hours (a rolling window).
QIANSHU_SEND_PER_USER_DAY = env_int("QIANSHU_SEND_PER_USER_DAY", 200)
QIANSHU_SEND_PER_ORG_DAY = env_int("QIANSHU_SEND_PER_ORG_DAY", 5000)
# 下载 of ticked tasks as one ZIP: at most this many bytes of files (refused before streaming).
QIANSHU_ZIP_MAX_BYTES = env_int("QIANSHU_ZIP_MAX_BYTES", 512 * 1024 * 1024)

# --- Organisations ----------------------------------------------------------------------------
# 对公打款认证 goes through a bank provider: `sandbox` (development; pays nothing, see
# qianshu.orgs.providers.sandbox) or `http` (the signed JSON bank gateway).
QIANSHU_BANK_PROVIDER = env_str("QIANSHU_BANK_PROVIDER", "sandbox" if DEBUG else "http")
# The sandbox is refused when DEBUG is off unless this is set (a staging system).
QIANSHU_BANK_SANDBOX_ALLOWED = env_bool("QIANSHU_BANK_SANDBOX_ALLOWED", False)
QIANSHU_BANK_GATEWAY_URL = env_str("QIANSHU_BANK_GATEWAY_URL")
QIANSHU_BANK_GATEWAY_SECRET = env_secret("QIANSHU_BANK_GATEWAY_SECRET")
QIANSHU_BANK_GATEWAY_TIMEOUT = env_int("QIANSHU_BANK_GATEWAY_TIMEOUT", 15)  # seconds
# The platform's corporate account that organisations pay (我给平台打款); that direction is
# offered only when all three are set.
QIANSHU_PLATFORM_BANK_NAME = env_str("QIANSHU_PLATFORM_BANK_NAME", "沙箱银行" if DEBUG else "")
QIANSHU_PLATFORM_ACCOUNT_NAME = env_str(
    "QIANSHU_PLATFORM_ACCOUNT_NAME", "签署平台（沙箱）" if DEBUG else ""
)
QIANSHU_PLATFORM_ACCOUNT_NUMBER = env_str(
    "QIANSHU_PLATFORM_ACCOUNT_NUMBER", "6200000000000001" if DEBUG else ""
)
# New micro-deposits (平台给我打款) per organisation per 24 hours; each allows 3 tries.
QIANSHU_ORG_DEPOSITS_PER_DAY = env_int("QIANSHU_ORG_DEPOSITS_PER_DAY", 3)
# Legal-representative authorisation SMS per organisation per 24 hours.
QIANSHU_ORG_LEGAL_REP_SMS_PER_DAY = env_int("QIANSHU_ORG_LEGAL_REP_SMS_PER_DAY", 5)
# 企业三要素: name + credit code + legal representative checked against a business registry
# before an organisation counts as verified. `none` (no registry: every organisation goes to
# an operator, 人工审核), `sandbox` (development; see qianshu.orgs.providers.registry.sandbox)
# or `http` (the signed JSON registry gateway).
QIANSHU_REGISTRY_PROVIDER = env_str("QIANSHU_REGISTRY_PROVIDER", "sandbox" if DEBUG else "none")
# The sandbox is refused when DEBUG is off unless this is set (a staging system).
QIANSHU_REGISTRY_SANDBOX_ALLOWED = env_bool("QIANSHU_REGISTRY_SANDBOX_ALLOWED", False)
QIANSHU_REGISTRY_GATEWAY_URL = env_str("QIANSHU_REGISTRY_GATEWAY_URL")
QIANSHU_REGISTRY_GATEWAY_SECRET = env_secret("QIANSHU_REGISTRY_GATEWAY_SECRET")
QIANSHU_REGISTRY_GATEWAY_TIMEOUT = env_int("QIANSHU_REGISTRY_GATEWAY_TIMEOUT", 15)  # seconds
# Registry checks (each one a paid call) per organisation per 24 hours.
QIANSHU_ORG_REGISTRY_CHECKS_PER_DAY = env_int("QIANSHU_ORG_REGISTRY_CHECKS_PER_DAY", 10)
# Every list statement built once per viewer shape (envelopes/list_shapes.py) also compared
# with the viewer's own query on each call: for the tests, never needed in production.
QIANSHU_CHECK_SHAPED_STATEMENTS = env_bool("QIANSHU_CHECK_SHAPED_STATEMENTS", False)
