"""Fixtures of the back-office tests: the identity tests' personas and settings."""

from tests.identity.conftest import (  # noqa: F401 - pytest fixtures
    alice,
    bob,
    charlie,
    identity_settings,
    operator,
    platform_pki,
)
