"""`make test-engines`: the pipeline, fault and Celery-worker tests against the production
engines: the machine's RabbitMQ (a virtual host of this run's own) as the broker, and the
machine's PostgreSQL through a PgBouncer in transaction mode that this lane starts. Redis
stays the suite's embedded one. Everything created is removed at the end, pass or fail.

    python scripts/test_engines.py [pytest arguments]
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.engines import PgBouncer  # noqa: E402

POSTGRES = ("127.0.0.1", 5432)
RABBITMQ = "127.0.0.1:5672"
TESTS = ["tests/test_pipeline_batches.py", "tests/test_pipeline_faults.py",
         "tests/test_pipeline_twilio.py", "tests/test_pipeline_vonage_http.py",
         "tests/test_celery_worker.py", "tests/test_engines.py"]


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, stdout=subprocess.DEVNULL)


def main() -> int:
    run = f"cpaas_lane_{os.getpid()}"
    vhost = run
    bouncer = PgBouncer(server_host=POSTGRES[0], server_port=POSTGRES[1]).start()
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        env = {
            **os.environ,
            # The test database is test_<this name>, created and dropped through PgBouncer.
            "DATABASE_URL": bouncer.url(run),
            "DATABASE_POOLED": "1",
            "CELERY_BROKER_URL": f"amqp://guest:guest@{RABBITMQ}/{vhost}",
            "CPAAS_DATA_DIR": str(ROOT / ".data" / "engines"),
        }
        env.pop("REDIS_URL", None)
        print(f"test-engines: PostgreSQL {POSTGRES[0]}:{POSTGRES[1]} through PgBouncer "
              f"(transaction mode) on :{bouncer.port}; RabbitMQ {RABBITMQ} vhost {vhost}",
              flush=True)
        command = [sys.executable, "-m", "pytest", "-p", "no:randomly", *TESTS, *sys.argv[1:]]
        return subprocess.run(command, cwd=ROOT, env=env).returncode
    finally:
        bouncer.stop()
        rabbitmqctl("delete_vhost", vhost)
        # A run killed half-way leaves its test database behind; never one of another run.
        subprocess.run(["psql", "-h", POSTGRES[0], "-p", str(POSTGRES[1]), "-U", "postgres",
                        "-qc", f'DROP DATABASE IF EXISTS "test_{run}" WITH (FORCE)'],
                       check=False, stdout=subprocess.DEVNULL,
                       env={**os.environ, "PGOPTIONS": "-c client_min_messages=warning"})


if __name__ == "__main__":
    sys.exit(main())
