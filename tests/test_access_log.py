"""`make run`'s access log leaves out successful provider webhooks and health probes (a
burst of webhooks would drown everything else) but keeps pages, API calls and every
refused webhook."""

from __future__ import annotations

import datetime
import types

import pytest
from gunicorn.config import Config

from cpaas.access_log import AccessLogger


def _logged(capsys, path: str, status: int) -> str:
    config = Config()
    config.set("accesslog", "-")
    logger = AccessLogger(config)
    response = types.SimpleNamespace(status=f"{status} X", status_code=status, headers=[],
                                     sent=0)
    environ = {"REQUEST_METHOD": "POST", "RAW_URI": path, "PATH_INFO": path,
               "SERVER_PROTOCOL": "HTTP/1.1"}
    logger.access(response, [], environ, datetime.timedelta(milliseconds=3))
    return capsys.readouterr().out


@pytest.mark.parametrize(("path", "status"), [
    ("/webhooks/twilio-main/inbound", 200),
    ("/webhooks/twilio-main/status", 204),
    ("/healthz", 200),
    ("/readyz", 200),
])
def test_successful_webhooks_and_probes_are_not_logged(capsys, path, status):
    assert _logged(capsys, path, status) == ""


@pytest.mark.parametrize(("path", "status"), [
    ("/webhooks/twilio-main/inbound", 403),
    ("/webhooks/unknown/inbound", 404),
    ("/readyz", 503),
    ("/api/v1/messages", 201),
    ("/inbox/", 200),
])
def test_pages_api_calls_and_refusals_are_logged(capsys, path, status):
    assert f"{path} HTTP/1.1\" {status}" in _logged(capsys, path, status)
