"""The `make run` supervisor: web (gunicorn), Celery worker and Celery beat, one terminal.

Each child runs in its own session. On SIGINT or SIGTERM the supervisor stops every child,
then the embedded PostgreSQL and Redis: nothing is left behind. A child is stopped as
systemd or Kubernetes would (docs/DEPLOY.md#stopping): SIGTERM to its main process only, so
that gunicorn finishes its requests and the Celery worker its tasks in hand (a warm
shutdown; pool processes signalled directly would die under their tasks), then, after the
grace period or once the main process is gone, its whole process group, so that nothing it
forked outlives it. If a child dies on its own, the others are stopped too and the
supervisor exits non-zero, so a broken set-up is noticed instead of half-running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

# How long the group gets after SIGTERM once the main process is gone or out of time.
GROUP_STOP_TIMEOUT = 5.0


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = field(default=None, repr=False)

    def start(self, env: dict[str, str], write: Callable[[str], None]) -> None:
        self.process = subprocess.Popen(
            self.argv,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            text=True,
            bufsize=1,
        )
        threading.Thread(target=self._pump, args=(write,), daemon=True).start()

    def _pump(self, write: Callable[[str], None]) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            write(f"[{self.name}] {line.rstrip()}")

    def signal_main(self, signum: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signum)

    def signal_group(self, signum: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)


class Supervisor:
    def __init__(self, children: list[Child], env: dict[str, str], *,
                 stop_grace: float = 30.0) -> None:
        self.children = children
        self.env = env
        self.stop_grace = stop_grace
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def write(self, line: str) -> None:
        with self._lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def request_stop(self, signum: int, _frame: object) -> None:
        self.write(f"[run] {signal.Signals(signum).name} received, stopping")
        self._stop.set()

    def start(self) -> None:
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)
        for child in self.children:
            child.start(self.env, self.write)

    def wait_ready(self, url: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._stop.is_set():
            if self.crashed() is not None:
                return False
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        return False

    def crashed(self) -> Child | None:
        for child in self.children:
            if child.process is not None and child.process.poll() is not None:
                return child
        return None

    def wait(self) -> int:
        """Block until a stop is requested (exit 0) or a child dies (exit 1)."""
        while not self._stop.wait(0.5):
            if (child := self.crashed()) is not None:
                self.write(f"[run] {child.name} exited with {child.process.returncode}; stopping")
                return 1
        return 0

    def stop(self) -> None:
        """Stop every child: main processes first, each given ``stop_grace`` seconds to
        finish what it holds, then whatever is left of each process group."""
        for child in self.children:
            child.signal_main(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.write(f"[run] {child.name} did not stop in {self.stop_grace:.0f} s; "
                           "stopping its process group")
        for child in self.children:
            child.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + GROUP_STOP_TIMEOUT
        for child in self.children:
            if child.process is None:
                continue
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            # Kill whatever is left of the group (forked pool workers that outlived the leader).
            child.signal_group(signal.SIGKILL)
            child.process.wait()
