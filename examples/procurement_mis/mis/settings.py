"""Settings of the example procurement system (采购管理系统), from environment variables only.

``MIS_QIANSHU_URL``      where Qianshu runs (default http://127.0.0.1:8000)
``MIS_QIANSHU_API_KEY``  the API key of the buyer organisation (``qianshu create-api-key``);
                         ``MIS_QIANSHU_API_KEY_FILE`` reads it from a file instead
``MIS_PUBLIC_URL``       where Qianshu reaches this system (default http://127.0.0.1:8100); the
                         webhook endpoint is ``<MIS_PUBLIC_URL>/webhooks/qianshu/``
``MIS_DATA_DIR``         the SQLite database and the stored contract files (default ./var)
``MIS_SECRET_KEY``       Django's secret key (default: generated once into the data dir)
``MIS_DEBUG``            1 for Django's debug pages (default off)
``MIS_SEAL_CONTACT_NAME`` / ``MIS_SEAL_CONTACT_PHONE``
                         the 采招办管理员 who seals with the buyer's 合同专用章 (the last step)
``MIS_CONTRACT_FONT``    a CJK font (.ttf/.otf/.ttc) for the generated sample contracts
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

DATA_DIR = Path(os.environ.get("MIS_DATA_DIR", Path.cwd() / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    if value := os.environ.get("MIS_SECRET_KEY"):
        return value
    path = DATA_DIR / "secret-key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _api_key() -> str:
    if path := os.environ.get("MIS_QIANSHU_API_KEY_FILE"):
        return Path(path).read_text().strip()
    return os.environ.get("MIS_QIANSHU_API_KEY", "").strip()


QIANSHU_URL = os.environ.get("MIS_QIANSHU_URL", "http://127.0.0.1:8000").rstrip("/")
QIANSHU_API_KEY = _api_key()
PUBLIC_URL = os.environ.get("MIS_PUBLIC_URL", "http://127.0.0.1:8100").rstrip("/")
CONTRACT_FONT = os.environ.get("MIS_CONTRACT_FONT", "")
# 采招办管理员: the contact of the last step, who seals with the buyer's 合同专用章.
SEAL_CONTACT_NAME = os.environ.get("MIS_SEAL_CONTACT_NAME", "采招办管理员")
SEAL_CONTACT_PHONE = os.environ.get("MIS_SEAL_CONTACT_PHONE", "")

SECRET_KEY = _secret_key()
DEBUG = os.environ.get("MIS_DEBUG", "") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", urlsplit(PUBLIC_URL).hostname or "127.0.0.1"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "mis",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "mis.urls"
WSGI_APPLICATION = "mis.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "mis.sqlite3",
        "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Contract files (the pushed text, the signed final PDF, the evidence report).
MEDIA_ROOT = DATA_DIR / "files"
STATIC_URL = "static/"
# 20 MB contracts.
DATA_UPLOAD_MAX_MEMORY_SIZE = FILE_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024

LANGUAGE_CODE = "zh-hans"
TIME_ZONE = "Asia/Shanghai"
USE_I18N = False
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {"mis": {"handlers": ["console"], "level": "INFO"}},
}
