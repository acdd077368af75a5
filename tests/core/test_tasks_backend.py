"""The configured task backend (django-tasks-db) runs work through a real db_worker."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import override_settings

from qianshu.settings import TASKS as CONFIGURED
from tests.core.background import multiply


@pytest.mark.django_db(transaction=True)
def test_database_backend_and_worker() -> None:
    assert CONFIGURED["default"]["BACKEND"] == "django_tasks_db.DatabaseBackend"
    with override_settings(TASKS=CONFIGURED):
        result = multiply.using(backend="default").enqueue(6, 7)
        assert result.status == "READY"
        call_command("db_worker", "--batch", "--no-startup-delay", "--queue-name", "*")
        result.refresh()
        assert result.status == "SUCCESSFUL"
        assert result.return_value == 42
