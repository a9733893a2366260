"""The dashboard of owners and admins: traffic, delivery, opt-outs and response times over
the last 7, 30 or 90 days, in the tenant's timezone.

The figures come from ``messaging.dashboard``; this view picks the period and formats
numbers. The charts are drawn in the browser by ``static/js/dashboard.js`` (with the
vendored uPlot) from the same figures, handed over with ``json_script`` because the
Content-Security-Policy allows no inline script; each chart has a table of its numbers.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.permissions import tenant_admin_required
from messaging.dashboard import (
    DEFAULT_DAYS,
    PERIOD_DAYS,
    Dashboard,
    dashboard_get,
    dashboard_period,
)


def _days(raw: str) -> int:
    """The period asked for, or the default: a hand-edited URL gets a page, not an error."""
    offered = {str(days): days for days in PERIOD_DAYS}
    return offered.get(raw, DEFAULT_DAYS)


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.1%}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = round(seconds)
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{minutes} min {seconds % 60} s"
    if seconds < 86400:
        return f"{hours} h {minutes % 60} min"
    return f"{days} d {hours % 24} h"


def _chart_data(dashboard: Dashboard) -> dict[str, Any]:
    """What ``dashboard.js`` draws: one label per day (the tables carry full dates) and
    the series in the same order."""
    days = dashboard.traffic.days
    return {"days": [f"{row.day.day} {row.day:%b}" for row in days],
            "inbound": [row.inbound for row in days],
            "outbound": [row.outbound for row in days],
            "hours": dashboard.traffic.hours}


@tenant_admin_required
@never_cache
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """The figures of the period asked for (``?days=``), up to today in the tenant's
    timezone; recomputed on each visit, so never cached."""
    days = _days(request.GET.get("days", ""))
    zone = request.tenant.zone
    figures = dashboard_get(period=dashboard_period(days=days, zone=zone))
    traffic, responses = figures.traffic, figures.responses
    busiest = traffic.busiest_hour
    context = {
        "figures": figures,
        "periods": [(choice, f"{reverse('dashboard')}?days={choice}", choice == days)
                    for choice in PERIOD_DAYS],
        "zone": zone.key,
        "last_day": figures.period.day_list()[-1],
        "delivery_rate": _percent(traffic.delivery_rate),
        "optout_rate": _percent(figures.optouts.rate),
        "median_response": _duration(responses.median_seconds),
        "busiest_hour": None if busiest is None else f"{busiest:02d}:00-{busiest + 1:02d}:00",
        "busiest_count": 0 if busiest is None else traffic.hours[busiest],
        "hour_rows": [(f"{hour:02d}:00", count) for hour, count in enumerate(traffic.hours)],
        "chart_data": _chart_data(figures),
    }
    return render(request, "messaging/dashboard.html", context)
