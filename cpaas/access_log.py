"""gunicorn's access log without the lines nobody reads: successful provider webhooks
and health probes. Under a burst a provider sends hundreds of webhooks a second; writing,
forwarding (the ``make run`` supervisor prefixes every line) and storing a line for each
cost the web processes several percent of their CPU
(docs/ARCHITECTURE.md#measured-constraints). A refused or failed webhook is still logged,
and the application logs every refusal with its reason.
"""

from __future__ import annotations

from gunicorn.glogging import Logger

_QUIET_PREFIXES = ("/webhooks/", "/healthz", "/readyz")


class AccessLogger(Logger):
    def access(self, resp, req, environ, request_time) -> None:
        status = getattr(resp, "status_code", None) or 0
        if status < 400 and environ.get("PATH_INFO", "").startswith(_QUIET_PREFIXES):
            return
        super().access(resp, req, environ, request_time)
