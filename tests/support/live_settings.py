"""Settings of a Qianshu started as a real process by an end-to-end test
(:mod:`tests.support.processes`): the test settings — the same fixed secrets as the test
process, so that the keys it made are usable, the sandbox providers, cheap PIN hashing — with
the database task backend, so that a ``db_worker`` process does the background work (SMS,
webhook delivery, completion) as in production. ``DATABASE_URL``, ``QIANSHU_DEBUG``,
``QIANSHU_PUBLIC_URL`` and the storage directory come from the environment."""

from tests.settings import *  # noqa: F403

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default", "signing", "notifications", "webhooks"],
    }
}
