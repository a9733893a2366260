"""A real Celery worker in its own process, for the tests whose behaviour depends on one."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from django.conf import settings

# A warm shutdown waits for the task in hand; on a loaded two-core machine that, or a
# task an earlier test left for a tenant now gone, can outlast any fixed wait.
STOP_TIMEOUT = 30


@contextmanager
def celery_worker(env: dict[str, str], *, queues: Iterable[str] = settings.WORKER_QUEUES,
                  solo: bool = False, log: IO | None = None) -> Iterator[subprocess.Popen]:
    """Run a one-process worker on ``queues`` for the block. It is stopped as in
    production (SIGTERM, a warm shutdown), and killed with its pool if it has not stopped
    within ``STOP_TIMEOUT``: what the test asserted is settled by then."""
    command = [str(Path(sys.executable).parent / "celery"), "-A", "cpaas", "worker",
               "--queues", ",".join(queues), "--concurrency", "1",
               "--loglevel", "WARNING", "--without-mingle", "--without-gossip"]
    if solo:
        command += ["--pool", "solo"]
    process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, stdout=log,
                               stderr=subprocess.STDOUT if log else None,
                               start_new_session=True)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
