"""Production engines of our own for the lane, the fault tests, the scale demo and the bench:
a PgBouncer in transaction mode and a RabbitMQ node, each in a temporary directory on a
port of its own. They never touch the machine's services; PgBouncer only connects to a
PostgreSQL it is given."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PGBOUNCER = "/usr/sbin/pgbouncer"
RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
# PgBouncer refuses to run as root.
PGBOUNCER_USER = "postgres"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_port(host: str, port: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {host}:{port} within {timeout:.0f} s")


def require(path: str, package: str) -> None:
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"{path} is missing: apt-get install {package} (.ci/run does)")


class PgBouncer:
    """PgBouncer in transaction mode in front of ``server_host:server_port`` (every database,
    user ``postgres``, trust; a directory for a unix socket), listening on ``host:port``;
    ``options`` adds settings to its [pgbouncer] section."""

    def __init__(self, *, server_host: str = "127.0.0.1", server_port: int = 5432,
                 host: str = "127.0.0.1", port: int | None = None, pool_size: int = 20,
                 max_client_conn: int = 500, options: dict[str, str] | None = None) -> None:
        require(PGBOUNCER, "pgbouncer")
        self.server_host, self.server_port = server_host, server_port
        self.host = host
        self.port = port or free_port(host)
        self.pool_size, self.max_client_conn = pool_size, max_client_conn
        self.options = options or {}
        self.directory = Path(tempfile.mkdtemp(prefix="cpaas-pgbouncer-"))
        self.process: subprocess.Popen | None = None

    def url(self, database: str) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def start(self) -> PgBouncer:
        # Through a unix socket, as the owner of its directory (PostgreSQL's data directory is
        # private to it); else as the PostgreSQL packages' user.
        user = (pwd.getpwuid(os.stat(self.server_host).st_uid)
                if self.server_host.startswith("/") else pwd.getpwnam(PGBOUNCER_USER))
        (self.directory / "users.txt").write_text('"postgres" ""\n')
        (self.directory / "pgbouncer.ini").write_text(f"""\
[databases]
* = host={self.server_host} port={self.server_port}

[pgbouncer]
listen_addr = {self.host}
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {self.directory}/users.txt
admin_users = postgres
pool_mode = transaction
default_pool_size = {self.pool_size}
max_client_conn = {self.max_client_conn}
ignore_startup_parameters = extra_float_digits
logfile = {self.directory}/pgbouncer.log
pidfile = {self.directory}/pgbouncer.pid
""" + "".join(f"{key} = {value}\n" for key, value in self.options.items()))
        for path in [self.directory, *self.directory.iterdir()]:
            os.chown(path, user.pw_uid, user.pw_gid)
        command = [PGBOUNCER, "-u", user.pw_name, str(self.directory / "pgbouncer.ini")]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_port(self.host, self.port, 30, "pgbouncer")
        except RuntimeError:
            self.stop()
            raise
        return self

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.directory / "pgbouncer.log").read_text()
        return ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


class PrivateRabbit:
    """A RabbitMQ node of our own (own node name, port, data and cookie), so a test may kill
    and restart it; the machine's node is never touched. Guest may log in from anywhere, for
    the scale demo's hosts."""

    def __init__(self, *, host: str = "127.0.0.1", port: int | None = None,
                 directory: Path | None = None) -> None:
        require(RABBITMQ_SERVER, "rabbitmq-server")
        self.host = host
        self.port = port or free_port(host)
        self.directory = directory or Path(tempfile.mkdtemp(prefix="cpaas-rabbit-"))
        self.node = f"cpaas{self.port}@localhost"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@{self.host}:{self.port}//"

    def start(self, timeout: float = 120) -> PrivateRabbit:
        directory = self.directory
        (directory / "rabbitmq-env.conf").touch()
        (directory / "enabled_plugins").write_text("[].\n")
        (directory / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = {self.host}:{self.port}\n"
            "loopback_users = none\n")
        env = {
            **os.environ,
            "HOME": str(directory),  # the node's own Erlang cookie
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_CONF_ENV_FILE": str(directory / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(directory / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(directory / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(directory / "mnesia"),
            "RABBITMQ_LOG_BASE": str(directory / "log"),
            "RABBITMQ_PID_FILE": str(directory / "rabbit.pid"),
            # Erlang distribution (for rabbitmqctl) on loopback only.
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }
        self.process = subprocess.Popen([RABBITMQ_SERVER], env=env, cwd=directory,
                                        stdout=(directory / "console.log").open("a"),
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("private RabbitMQ did not start: "
                                   + (directory / "console.log").read_text()[-2000:])
            time.sleep(0.25)
        return self

    def answers(self) -> bool:
        from kombu import Connection

        try:
            with Connection(self.url, connect_timeout=1) as connection:
                connection.connect()
                return True
        except Exception:
            return False

    def kill(self) -> None:
        """SIGKILL the node (and its epmd-less process group): a crash, not a stop."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """Kill the node and remove its data."""
        self.kill()
        shutil.rmtree(self.directory, ignore_errors=True)
