"""Settings of the envelope benchmarks: the test settings (fixed secrets, sandbox providers,
cheap PIN hashing), but background work is queued in the database as in production (a worker
would run it) instead of running inline."""

from tests.settings import *  # noqa: F403

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default", "signing", "notifications", "webhooks"],
    }
}

# The batch benchmark sends hundreds of envelopes from one person within seconds.
QIANSHU_SEND_PER_USER_DAY = 100_000

# The lists are measured as production runs them: without the tests' comparison of each list
# statement built once per viewer shape with the viewer's own query.
QIANSHU_CHECK_SHAPED_STATEMENTS = False
