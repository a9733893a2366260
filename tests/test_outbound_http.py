"""URLs the product calls for tenants and the operator: loopback only outside production,
public addresses only in production, and the URL that is checked is the URL that is called,
at the address that was checked, with no redirect followed.

Tricky URLs go through the real client (``signed_post`` and a provider backend's send, both
on requests) toward real listeners on this machine: 127.0.0.1, ::1 and the machine's own
non-loopback address. DNS and the internet are outside the machine, so ``network`` stands
in for them: a test may give a name its answers, and a connection to a public address
reaches the local listener the test routes it to, or is refused. Nothing leaves.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import urllib3.util.connection
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.exceptions import ValidationError
from django.test import override_settings
from django_tenants.utils import schema_context

from core.outbound_http import UnsafeURLError, signed_post, url_check
from events.models import MESSAGE_RECEIVED, WebhookSubscription
from messaging.models import ForwardingEndpoint
from messaging.providers.base import OutboundSMS, PermanentSendError, SendError
from messaging.providers.http import HttpBackend
from messaging.providers.twilio import TwilioBackend
from tenants.connections import connection_add
from tenants.models import ProviderConnection
from tests.support.fakes import FakeHTTPServer, Recorded, Reply

PUBLIC_IP = "93.184.216.34"  # example.com's; reached only through ``network``
PROBE = r"http://127.0.0.1:{p}\@93.184.216.34/x"  # the URL of the report
SECRET = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="


@pytest.mark.parametrize("url", ["http://127.0.0.1:9000/x", "https://localhost/hook",
                                 "http://[::1]:8080/"])
def test_loopback_is_allowed_outside_production(url):
    url_check(url)


@pytest.mark.parametrize("url", ["http://10.0.0.5/", "https://8.8.8.8/", "ftp://127.0.0.1/",
                                 "not a url", "http:///nohost", "", "http://[::1/"])
def test_anything_else_is_refused_outside_production(url):
    with pytest.raises(UnsafeURLError):
        url_check(url)


@override_settings(OUTBOUND_HTTP_PUBLIC_ONLY=True)
@pytest.mark.parametrize("url", ["http://127.0.0.1/", "http://localhost:8000/",
                                 "http://169.254.169.254/latest/meta-data/",
                                 "http://10.1.2.3/", "http://192.168.0.1/", "http://[::1]/",
                                 "http://[fd00::1]/", "http://0.0.0.0/", "http://100.64.0.1/",
                                 "http://[fec0::1]/", "http://[ff02::1]/",
                                 "http://224.0.0.1/"])
def test_production_refuses_internal_addresses(url):
    with pytest.raises(UnsafeURLError):
        url_check(url)


@override_settings(OUTBOUND_HTTP_PUBLIC_ONLY=True)
@pytest.mark.parametrize("url", ["https://8.8.8.8/webhook", "HTTPS://8.8.8.8:8443/a?b=c#d",
                                 "http://[2606:4700:4700::1111]/hook"])
def test_production_allows_public_addresses(url):
    url_check(url)


@pytest.mark.parametrize(("url", "says"), [
    (PROBE.format(p=8391), "backslash"),
    ("http://user:pw@127.0.0.1/", "user name or password"),
    ("http://127.0.0.1%2F@x/", "user name or password"),
    ("http://127%2E0%2E0%2E1/", "percent-encoded"),
    ("http://127.0.0.1/a b", "space"),
    ("http://127.0.0.1/\x00", "control character"),
    ("http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/", "outside ASCII"),
    ("http://0x7f.1/", "four decimal numbers"),
    ("http://[::ffff:127.0.0.1]/", "IPv4 address inside"),
    ("http://127.0.0.1:99999/", "port"),
    ("gopher://127.0.0.1/", "not an http\\(s\\) URL"),
    ("http://10.0.0.5/", "not on this machine"),
])
def test_refusals_say_what_is_wrong(url, says):
    with pytest.raises(UnsafeURLError, match=says):
        url_check(url)


# --- Through the client, toward listeners on this machine ------------------------------------


def _outside_address() -> str | None:
    """This machine's own non-loopback IPv4 address, if it has one (connecting a UDP
    socket sends nothing: it only picks the route)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if ipaddress.ip_address(address).is_loopback else address


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def _internal_data(request: Recorded) -> Reply:
    return Reply(200, {"secret": "internal data"})


@pytest.fixture(scope="module")
def listeners() -> Iterator[dict[str, FakeHTTPServer]]:
    """Servers on this machine that no tricky URL may reach: loopback (v4 and v6) and the
    machine's own outside address, where there is one."""
    hosts = {"lo4": "127.0.0.1", "lo6": "::1" if _ipv6_loopback() else None,
             "out": _outside_address()}
    servers = {name: FakeHTTPServer(_internal_data, host=host).start()
               for name, host in hosts.items() if host}
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture(autouse=True)
def _fresh_listeners(request) -> None:
    if "listeners" in request.fixturenames:
        for server in request.getfixturevalue("listeners").values():
            server.requests.clear()


class Network:
    """DNS and the internet as this machine sees them in a test."""

    def __init__(self, local: set[str]) -> None:
        self.local = local
        self.names: dict[str, list[list[str]]] = {}  # a name's answers, one per lookup
        self.public: dict[tuple[str, int], tuple[str, int]] = {}  # routed to a listener
        self.refused: list[tuple[str, int]] = []  # connections that would have left

    def answer(self, name: str, *answers: list[str]) -> None:
        """``name`` resolves to each answer in turn; the last one stays."""
        self.names[name] = list(answers)

    def lookup(self, name: str) -> list[str] | None:
        answers = self.names.get(name.lower())
        if not answers:
            return None
        return answers.pop(0) if len(answers) > 1 else answers[0]


@pytest.fixture(autouse=True)
def network(monkeypatch) -> Network:
    outside = _outside_address()
    network = Network({outside} if outside else set())
    real_getaddrinfo = socket.getaddrinfo
    real_connect = urllib3.util.connection.create_connection

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        answer = network.lookup(host) if isinstance(host, str) else None
        if answer is None:
            return real_getaddrinfo(host, port, family, type, proto, flags)
        return [(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM,
                 socket.IPPROTO_TCP, "", (address, port or 0)) for address in answer]

    def create_connection(address, *args, **kwargs):
        host, port = address
        resolved = getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4][0]
        ip = ipaddress.ip_address(resolved.partition("%")[0])
        ip = getattr(ip, "ipv4_mapped", None) or ip
        if ip.is_loopback or str(ip) in network.local:
            return real_connect((resolved, port), *args, **kwargs)
        if (str(ip), port) in network.public:
            return real_connect(network.public[str(ip), port], *args, **kwargs)
        network.refused.append((str(ip), port))
        raise ConnectionRefusedError(f"{ip} is outside the machine")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(urllib3.util.connection, "create_connection", create_connection)
    return network


def sms() -> OutboundSMS:
    return OutboundSMS(message_id=1, tenant_schema="alpha", from_address="+15550001111",
                       to="+15550002222", body="hi", encoding="GSM-7", segments=1,
                       status_callback="http://localhost:8000/webhooks/p/status")


def post_signed(url: str):
    return signed_post(url=url, secret=SECRET, webhook_id="msg_1", body="{}",
                       timeout=(1, 2), max_bytes=1000, user_agent="test")


def http_backend(url: str) -> HttpBackend:
    return HttpBackend(ProviderConnection(name="p", kind="http",
                                          settings={"url": url, "secret": SECRET}))


def twilio_backend(base_url: str) -> TwilioBackend:
    return TwilioBackend(ProviderConnection(name="p", kind="twilio", settings={
        "account_sid": "AC1", "auth_token": "token", "api_base_url": base_url}))


# Each URL leads a lenient parser, a lenient resolver or an HTTP client to one of the
# listeners: {p} is 127.0.0.1's port, {p6} ::1's, {out}:{o} the machine's outside address.
# The flag says whether it is a plain loopback URL, which development may call.
TRICKY_URLS: list[tuple[str, bool]] = [
    # The authority read two ways: userinfo, backslash, separators after the port.
    (PROBE, False),
    (r"http://127.0.0.1:{p}\\@93.184.216.34/x", False),
    (r"http://127.0.0.1:{p}\x@93.184.216.34/x", False),
    (r"http://[::1]:{p6}\@93.184.216.34/x", False),
    (r"http://localhost:{p}\@93.184.216.34/x", False),
    (r"http://{out}:{o}\@127.0.0.1:{p}/x", False),
    ("http://93.184.216.34@127.0.0.1:{p}/x", False),
    ("http://user:secret@127.0.0.1:{p}/x", False),
    ("http://127.0.0.1:{p}@93.184.216.34/x", False),
    ("http://127.0.0.1:{p}@{out}:{o}/x", False),
    ("http://127.0.0.1:{p}#@93.184.216.34/x", True),
    ("http://127.0.0.1:{p}?@93.184.216.34/x", True),
    ("http://127.0.0.1:{p}:80/x", False),
    ("http://[::1]:{p6}:80/x", False),
    # Percent-encoded separators and host characters.
    ("http://127.0.0.1:{p}%5C@93.184.216.34/x", False),
    ("http://127.0.0.1%3A{p}%4093.184.216.34/x", False),
    ("http://127.0.0.1%2F@93.184.216.34/x", False),
    ("http://%31%32%37.0.0.1:{p}/x", False),
    ("http://127%2E0%2E0%2E1:{p}/x", False),
    ("http://localhost%00.example.com:{p}/x", False),
    # Whitespace and control characters, which some parsers drop and others keep.
    ("http://127.0.0.1:{p}\n@93.184.216.34/x", False),
    ("http://127.0.0.1:{p}\t@93.184.216.34/x", False),
    ("http://127.0.0.1:{p}\r@93.184.216.34/x", False),
    ("http://{out}:{o}\n@127.0.0.1:{p}/x", False),
    (" http://127.0.0.1:{p}/x", False),
    ("http://127.0.0.1:{p}/x y", False),
    ("http://127.0.0.1:{p}/x\r\nX-Injected: 1", False),
    ("http://127.0.0.1\x00.example.com:{p}/x", False),
    ("http://\uff11\uff12\uff17.\uff10.\uff10.\uff11:{p}/x", False),  # full-width digits
    ("http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ:{p}/x", False),
    # IPv4 in the forms inet_aton and browsers accept.
    ("http://2130706433:{p}/x", False),
    ("http://0177.0.0.1:{p}/x", False),
    ("http://0x7f.1:{p}/x", False),
    ("http://0X7F.0.0.1:{p}/x", False),
    ("http://127.1:{p}/x", False),
    ("http://0x7f000001:{p}/x", False),
    ("http://017700000001:{p}/x", False),
    ("http://127.000.000.001:{p}/x", False),
    ("http://127.0.0.1.:{p}/x", False),
    ("http://0:{p}/x", False),
    ("http://0.0.0.0:{p}/x", False),
    ("http://{out_decimal}:{o}/x", False),
    # IPv6, plain and carrying IPv4.
    ("http://[::1]:{p6}/x", True),
    ("http://[0:0:0:0:0:0:0:1]:{p6}/x", True),
    ("http://[::1%25lo]:{p6}/x", False),
    ("http://[::ffff:127.0.0.1]:{p}/x", False),
    ("http://[::ffff:7f00:1]:{p}/x", False),
    ("http://[::ffff:{out}]:{o}/x", False),
    ("http://[::127.0.0.1]:{p}/x", False),
    ("http://[64:ff9b::127.0.0.1]:{p}/x", False),
    ("http://[2002:7f00:1::]:{p}/x", False),
    ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]:{p}/x", False),  # Teredo, 127.0.0.1
    ("http://[::]:{p}/x", False),
    ("http://[fe80::1]:{p}/x", False),
    # Names of this machine.
    ("http://localhost:{p}/x", True),
    ("http://LOCALHOST:{p}/x", True),
    ("http://localhost.:{p}/x", True),
    ("https://localhost:{p}/x", True),
    ("http://{out}:{o}/x", False),
    # Not http(s), or no authority.
    ("HTTP://127.0.0.1:{p}/x", True),
    (r"http:\\127.0.0.1:{p}/x", False),
    ("http:/127.0.0.1:{p}/x", False),
    ("http:127.0.0.1:{p}/x", False),
    ("//127.0.0.1:{p}/x", False),
    ("ftp://127.0.0.1:{p}/x", False),
    ("gopher://127.0.0.1:{p}/_x", False),
]


def _address(server: FakeHTTPServer) -> str:
    return server.url.split("//")[1].rsplit(":", 1)[0].strip("[]")


def _url(template: str, listeners: dict[str, FakeHTTPServer]) -> str:
    ports = {name: int(server.url.rsplit(":", 1)[1]) for name, server in listeners.items()}
    needs = {"{p6}": "lo6", "{o}": "out"}
    missing = [name for key, name in needs.items() if key in template and name not in ports]
    if missing:
        pytest.skip(f"this machine has no {missing[0]} address to listen on")
    out = _address(listeners["out"]) if "out" in ports else ""
    return template.format(p=ports["lo4"], p6=ports.get("lo6"), o=ports.get("out"), out=out,
                           out_decimal=int(ipaddress.IPv4Address(out)) if out else "")


def _seen(listeners: dict[str, FakeHTTPServer], *names: str) -> list[Recorded]:
    return [request for name, server in listeners.items() if not names or name in names
            for request in server.requests]


def test_the_tricky_urls_are_many():
    assert len(TRICKY_URLS) >= 40


@override_settings(OUTBOUND_HTTP_PUBLIC_ONLY=True)
@pytest.mark.parametrize(("template", "plain_loopback"), TRICKY_URLS)
def test_in_production_no_tricky_url_is_called(template, plain_loopback, listeners,
                                               network):
    url = _url(template, listeners)
    if "{o}" in template and ipaddress.ip_address(_address(listeners["out"])).is_global:
        pytest.skip("this machine's outside address is public: production may call it")
    answer = post_signed(url)
    assert answer.refused and answer.error.startswith("Not sent:"), answer
    with pytest.raises(PermanentSendError) as refused:
        http_backend(url).send(sms())
    assert refused.value.code == "unsafe_url"
    assert _seen(listeners) == []
    assert network.refused == []  # nor was a connection tried anywhere else


@pytest.mark.parametrize(("template", "plain_loopback"), TRICKY_URLS)
def test_in_development_no_tricky_url_leaves_loopback(template, plain_loopback, listeners,
                                                      network):
    url = _url(template, listeners)
    answer = post_signed(url)
    try:
        http_backend(url).send(sms())
        code = None
    except SendError as exc:
        code = exc.code
    assert _seen(listeners, "out") == []
    assert network.refused == []
    if not plain_loopback:  # read differently by different parsers, or not loopback
        assert answer.refused and code == "unsafe_url", (answer, code)
        assert _seen(listeners) == []


# --- DNS answers that change, and redirects ---------------------------------------------------


@pytest.fixture
def public_site() -> Iterator[FakeHTTPServer]:
    """A server on the internet (reached through ``network``)."""
    with FakeHTTPServer(lambda request: Reply(200, {"id": "ok"})) as server:
        yield server


def _route(network: Network, address: str, port: int, server: FakeHTTPServer) -> None:
    network.public[address, port] = (_address(server), int(server.url.rsplit(":", 1)[1]))


@override_settings(OUTBOUND_HTTP_PUBLIC_ONLY=True)
@pytest.mark.parametrize("send", ["signed_post", "http_backend"])
def test_a_name_resolving_to_loopback_once_checked_is_called_where_it_was_checked(
        send, listeners, network, public_site):
    port = int(listeners["lo4"].url.rsplit(":", 1)[1])
    network.answer("rebind.example", [PUBLIC_IP], ["127.0.0.1"])
    _route(network, PUBLIC_IP, port, public_site)
    url = f"http://rebind.example:{port}/hook"
    if send == "signed_post":
        assert post_signed(url).succeeded
    else:
        http_backend(url).send(sms())
    assert _seen(listeners) == []
    [request] = public_site.requests
    assert request.headers["Host"] == f"rebind.example:{port}"


def test_in_development_a_name_checked_as_loopback_is_not_called_elsewhere(listeners,
                                                                          network):
    if "out" not in listeners:
        pytest.skip("this machine has no outside address to listen on")
    port = listeners["out"].url.rsplit(":", 1)[1]
    network.answer("rebind.example", ["127.0.0.1"], [_address(listeners["out"])])
    # The loopback listener has another port: no answer comes, and nothing leaves.
    assert not post_signed(f"http://rebind.example:{port}/hook").succeeded
    assert _seen(listeners) == []


@override_settings(OUTBOUND_HTTP_PUBLIC_ONLY=True)
def test_every_address_of_a_name_is_checked(listeners, network):
    port = int(listeners["lo4"].url.rsplit(":", 1)[1])
    network.answer("both.example", [PUBLIC_IP, "127.0.0.1"])
    answer = post_signed(f"http://both.example:{port}/hook")
    assert answer.refused and "127.0.0.1" in answer.error
    assert _seen(listeners) == [] and network.refused == []


def _redirecting(status: int, location: str) -> FakeHTTPServer:
    return FakeHTTPServer(lambda request: Reply(status, "moved",
                                                headers={"Location": location}))


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_signed_post_does_not_follow_a_redirect(status, listeners):
    with _redirecting(status, listeners["lo4"].url + "/internal") as site:
        answer = post_signed(site.url + "/hook")
        assert len(site.requests) == 1
    assert answer.status == status and not answer.succeeded
    assert "redirects are not followed" in answer.error
    assert _seen(listeners) == []


@pytest.mark.parametrize("location", ["http://[::1", "http://%zz/", "\x7f", "//"])
def test_a_garbled_redirect_is_an_answer_not_a_crash(location, listeners):
    with _redirecting(302, location) as site:
        assert post_signed(site.url + "/hook").status == 302
        with pytest.raises(PermanentSendError) as refused:
            http_backend(site.url + "/send").send(sms())
    assert refused.value.code == "provider_redirected"


def test_a_garbled_answer_is_an_error_not_a_crash():
    garbled = Reply(200, b"not gzip at all", headers={"Content-Encoding": "gzip"})
    with FakeHTTPServer(lambda request: garbled) as site:
        answer = post_signed(site.url + "/hook")
        with pytest.raises(SendError) as failed:
            http_backend(site.url + "/send").send(sms())
    assert answer.status is None and answer.error == "The answer could not be read: DecodeError."
    assert failed.value.code == "provider_bad_response"


@pytest.mark.parametrize("status", [302, 307])
@pytest.mark.parametrize("backend", [http_backend, twilio_backend])
def test_a_provider_answering_a_redirect_fails_the_send_without_following_it(
        backend: Callable, status, listeners):
    with _redirecting(status, listeners["lo4"].url + "/internal") as provider:
        with pytest.raises(PermanentSendError) as refused:
            backend(provider.url).send(sms())
        assert len(provider.requests) == 1
    assert refused.value.code == "provider_redirected"
    assert f"HTTP {status}" in refused.value.detail
    assert "redirects are not followed" in refused.value.detail
    assert _seen(listeners) == []


@override_settings(OUTBOUND_HTTP_PUBLIC_ONLY=True)
def test_in_production_a_provider_redirect_to_an_internal_address_is_not_followed(
        listeners, network):
    network.answer("api.provider.example", [PUBLIC_IP])
    with _redirecting(307, listeners["lo4"].url + "/internal") as provider:
        _route(network, PUBLIC_IP, 80, provider)
        with pytest.raises(PermanentSendError) as refused:
            twilio_backend("http://api.provider.example").send(sms())
        [request] = provider.requests
    assert request.headers["Host"] == "api.provider.example"
    assert refused.value.code == "provider_redirected"
    assert _seen(listeners) == []


# --- TLS to the checked address ----------------------------------------------------------------


def _certificates(tmp_path: Path, *, names: list[str], ips: list[str]) -> ssl.SSLContext:
    """A CA (written to ca.pem) and a server context with a certificate it signed for
    ``names`` and ``ips``."""
    now = datetime.now(UTC)

    def certificate(subject: str, key, issuer: x509.Name, issuer_key, *extensions):
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .issuer_name(issuer).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(minutes=5))
                   .not_valid_after(now + timedelta(hours=1))
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                                  critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       issuer_key.public_key()), critical=False))
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(
        ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    ca = certificate("Test CA", ca_key, ca_name, ca_key,
                     (x509.BasicConstraints(ca=True, path_length=None), True),
                     (x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                    content_commitment=False, key_encipherment=False,
                                    data_encipherment=False, key_agreement=False,
                                    encipher_only=False, decipher_only=False), True))
    leaf = certificate(names[0], key, ca_name, ca_key, (x509.SubjectAlternativeName(
        [x509.DNSName(name) for name in names]
        + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]), False))
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(pem))
    (tmp_path / "server.pem").write_bytes(leaf.public_bytes(pem) + key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "server.pem")
    return context


@pytest.mark.parametrize(("names", "succeeds"), [
    (["localhost"], True),
    # Right for the address connected to, wrong for the name in the URL.
    (["elsewhere.example"], False),
])
def test_https_is_verified_against_the_name_while_connecting_to_the_checked_address(
        names, succeeds, tmp_path, monkeypatch):
    context = _certificates(tmp_path, names=names, ips=["127.0.0.1"])
    server_names: list[str | None] = []
    context.sni_callback = lambda connection, name, context: server_names.append(name)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "ca.pem"))
    with FakeHTTPServer(_internal_data, tls=context) as site:
        port = site.url.rsplit(":", 1)[1]
        answer = post_signed(f"https://localhost:{port}/hook")
    assert server_names == ["localhost"]
    assert answer.succeeded is succeeds
    assert len(site.requests) == int(succeeds)
    if succeeds:
        assert site.requests[0].headers["Host"] == f"localhost:{port}"
    else:
        assert answer.error == "Could not connect: SSLError."


# --- When saved ---------------------------------------------------------------------------------


@override_settings(OUTBOUND_HTTP_PUBLIC_ONLY=True)
@pytest.mark.parametrize(("path", "fields", "model"), [
    ("webhooks", {"events": [MESSAGE_RECEIVED]}, WebhookSubscription),
    ("forwarding-endpoints", {"name": "crm"}, ForwardingEndpoint),
])
def test_the_api_refuses_the_reported_url_in_production(path, fields, model, alpha, api):
    response = api.post(path, {"url": PROBE.format(p=8391), **fields})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "unsafe_url"
    assert "backslash" in body["fields"]["url"][0]["detail"]
    with schema_context(alpha.schema_name):
        assert not model.objects.exists()


def test_the_api_refuses_a_url_read_as_loopback_by_one_parser_only(alpha, api):
    response = api.post("webhooks", {"url": r"http://10.0.0.5:80\@127.0.0.1:8000/x",
                                     "events": [MESSAGE_RECEIVED]})
    assert (response.status_code, response.json()["code"]) == (400, "unsafe_url")


@pytest.mark.parametrize("production", [False, True])
def test_a_connection_with_an_unsafe_base_url_is_refused_and_not_saved(production, db):
    with override_settings(OUTBOUND_HTTP_PUBLIC_ONLY=production), \
            pytest.raises(ValidationError) as refused:
        connection_add(name="evil", kind="twilio", settings={
            "account_sid": "AC1", "auth_token": "t",
            "api_base_url": "http://10.0.0.5" if not production else PROBE.format(p=80)})
    assert "api_base_url" in str(refused.value)
    assert not ProviderConnection.objects.filter(name="evil").exists()
