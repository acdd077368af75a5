"""Test settings: fixed test secrets, then the normal environment-driven settings."""

import os

os.environ.setdefault("QIANSHU_SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")
# 32 zero-free test bytes, base64url.
os.environ.setdefault("QIANSHU_MASTER_KEY", "dGVzdC1tYXN0ZXIta2V5LTMyLWJ5dGVzLWxvbmchISE=")
os.environ.setdefault("QIANSHU_PUBLIC_URL", "http://127.0.0.1:8000")

from qianshu.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
TASKS = {
    "default": {
        "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
        "QUEUES": ["default", "signing", "notifications", "webhooks"],
    }
}
# SMS codes are printed (captured by pytest) unless a test configures another backend.
QIANSHU_SMS_BACKEND = "console"
# Identity: the sandbox provider (allowed although DEBUG is off) and cheap PIN hashing.
QIANSHU_IDENTITY_PROVIDER = "sandbox"
QIANSHU_IDENTITY_SANDBOX_ALLOWED = True
QIANSHU_PIN_ARGON2 = {"time_cost": 1, "memory_kib": 8, "parallelism": 1}
# Organisations: the sandbox bank provider (allowed although DEBUG is off) and a platform account.
QIANSHU_BANK_PROVIDER = "sandbox"
QIANSHU_BANK_SANDBOX_ALLOWED = True
QIANSHU_PLATFORM_BANK_NAME = "测试银行北京分行"
QIANSHU_PLATFORM_ACCOUNT_NAME = "签署平台测试账户"
QIANSHU_PLATFORM_ACCOUNT_NUMBER = "6200000000000001"
# The sandbox business registry (allowed although DEBUG is off).
QIANSHU_REGISTRY_PROVIDER = "sandbox"
QIANSHU_REGISTRY_SANDBOX_ALLOWED = True
# Each list statement built once per viewer shape is compared with the viewer's own query.
QIANSHU_CHECK_SHAPED_STATEMENTS = True
