"""The Celery application: tenant-aware, JSON only, late acknowledgement.

tenant-schemas-celery records the schema of the tenant that enqueued a task and switches the
worker's connection to it before the task runs, so tasks read and write the right tenant.
"""

import os

from celery import Task
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections
from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpaas.settings")

app = CeleryApp("cpaas")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The cross-app sweeps: cpaas is the project package, not an installed app.
app.autodiscover_tasks(["cpaas"])


@task_prerun.connect
@task_postrun.connect
def _database_connections_check(sender: Task, **_) -> None:
    """Close the task's database connections as Django does after a request: once older
    than ``CONN_MAX_AGE`` or left unusable by an error. Celery's own fixup would close
    them around every task (``CELERY_DB_REUSE_MAX`` in cpaas/settings.py)."""
    if not getattr(sender.request, "is_eager", False):
        close_old_connections()
