"""The Celery application: tenant-aware, JSON only, late acknowledgement.

tenant-schemas-celery records the schema of the tenant that enqueued a task and switches the
worker's connection to it before the task runs, so tasks read and write the right tenant.
"""

import os

from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpaas.settings")

app = CeleryApp("cpaas")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The cross-app sweeps: cpaas is the project package, not an installed app.
app.autodiscover_tasks(["cpaas"])
