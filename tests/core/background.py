"""Tasks used by the test of the database task backend."""

from django_tasks import task


@task(queue_name="default")
def multiply(a: int, b: int) -> int:
    return a * b
