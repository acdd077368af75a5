"""A password hasher slow enough that parallel login attempts overlap (race tests only)."""

from __future__ import annotations

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class SlowPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    # ~30 ms per check: long enough for 30 threads to be inside the check at once, and
    # hashlib releases the GIL while it runs, as a real hasher does in production.
    iterations = 60_000
