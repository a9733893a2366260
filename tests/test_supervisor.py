"""`make run`'s supervisor as a user runs it: its own embedded PostgreSQL and Redis, web,
worker and beat; ready, usable over real HTTP, restartable with data kept, and Ctrl-C leaves
no process behind."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import PASSWORD, free_port

pytestmark = pytest.mark.slow

METRICS_TOKEN = "supervisor-metrics-token"


class Run:
    def __init__(self, data_dir: Path, port: int) -> None:
        env = {k: v for k, v in os.environ.items()
               if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "PUBLIC_BASE_URL"}}
        env.update(CPAAS_DATA_DIR=str(data_dir), PORT=str(port), WEB_CONCURRENCY="2",
                   CELERY_CONCURRENCY="1", PYTHONUNBUFFERED="1", METRICS_TOKEN=METRICS_TOKEN)
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.data_dir = data_dir
        self.port = port
        self.log = data_dir.parent / f"run-{time.monotonic_ns()}.log"
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "run"], cwd=settings.BASE_DIR, env=env,
            stdout=self.log.open("w"), stderr=subprocess.STDOUT,
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_ready(self, timeout: float) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            assert self.process.poll() is None, self.log.read_text()
            try:
                ready = requests.get(self.url("/readyz"), timeout=5).status_code == 200
                if ready and "SMS portal is running" in self.log.read_text():
                    return time.monotonic() - started
            except requests.RequestException:
                # Refused before gunicorn binds, or slow while its workers import Django.
                pass
            time.sleep(0.25)
        raise AssertionError(f"not ready in {timeout}s:\n{self.log.read_text()}")

    def processes(self) -> list[psutil.Process]:
        found = psutil.Process(self.process.pid).children(recursive=True)
        for pid_file in ("postgres/postmaster.pid", "redis/redis.pid"):
            pid = int((self.data_dir / pid_file).read_text().split()[0])
            found.append(psutil.Process(pid))
        return found

    def interrupt(self) -> None:
        self.process.send_signal(signal.SIGINT)
        assert self.process.wait(timeout=60) == 0, self.log.read_text()


def get(run: Run, host: str, path: str, session=None) -> requests.Response:
    return (session or requests).get(run.url(path), headers={"Host": f"{host}:{run.port}"},
                                     timeout=10)


def test_run_serves_the_portal_and_ctrl_c_leaves_nothing_behind(tmp_path):
    data_dir = tmp_path / "data"
    port = free_port()
    run = Run(data_dir, port)
    try:
        run.wait_ready(timeout=240)
        children = run.processes()
        names = " ".join(" ".join(p.cmdline()) for p in children)
        assert "gunicorn" in names and "worker" in names and "beat" in names
        assert f"http://demo.localhost:{port}/" in run.log.read_text()

        login_page = get(run, "demo.localhost", "/accounts/login/")
        assert login_page.status_code == 200
        assert 'name="login"' in login_page.text and 'name="password"' in login_page.text

        # Sign up over real HTTP; the new tenant answers on its own host.
        browser = requests.Session()
        form = get(run, "localhost", "/signup/", browser)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        created = browser.post(
            run.url("/signup/"),
            data={"csrfmiddlewaretoken": token, "name": "Initech", "slug": "initech",
                  "owner_email": "bill@initech.example", "owner_password": PASSWORD},
            headers={"Host": f"localhost:{port}", "Referer": run.url("/signup/")}, timeout=30,
        )
        assert created.status_code == 200, created.text
        assert get(run, "initech.localhost", "/accounts/login/").status_code == 200

        # /metrics adds up every gunicorn worker's counts (multiprocess mode).
        for _ in range(4):
            assert requests.post(run.url("/webhooks/simulator/inbound"), data={"x": "1"},
                                 headers={"Host": f"localhost:{port}"},
                                 timeout=10).status_code == 403
        scraped = requests.get(run.url("/metrics"), timeout=10, headers={
            "Host": f"localhost:{port}", "Authorization": f"Bearer {METRICS_TOKEN}"})
        assert scraped.status_code == 200, scraped.text
        families = {f.name: f for f in text_string_to_metric_families(scraped.text)}
        [count] = [s.value for s in families["cpaas_webhook_seconds"].samples
                   if s.name == "cpaas_webhook_seconds_count" and s.labels["kind"] == "inbound"]
        assert count == 4
        assert "cpaas_queue_depth" in families
        assert list((data_dir / "metrics").glob("*.db"))
    finally:
        children = run.processes() if run.process.poll() is None else []
        run.interrupt()
    time.sleep(0.5)
    survivors = [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert survivors == [], [p.cmdline() for p in survivors]

    # A second start is quick and keeps the data.
    run = Run(data_dir, port)
    try:
        seconds = run.wait_ready(timeout=60)
        assert seconds < 60
        assert get(run, "initech.localhost", "/accounts/login/").status_code == 200
    finally:
        run.interrupt()
