from allauth.core import ratelimit
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from tenants.forms import SignupForm
from tenants.models import site_url
from tenants.services import tenant_provision


def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "tenants/landing.html")


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and not ratelimit.consume(request, action="signup"):
        return _signup_refused(request)
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            tenant = tenant_provision(**form.cleaned_data)
        except ValidationError as exc:
            # A concurrent signup took the slug between validation and insert.
            for field, errors in exc.error_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            return render(
                request,
                "tenants/signup_done.html",
                {
                    "new_tenant": tenant,
                    "login_url": site_url(tenant.primary_host, "/accounts/login/"),
                },
            )
    status = 400 if request.method == "POST" else 200
    return render(request, "tenants/signup.html", {"form": form}, status=status)


def _signup_refused(request: HttpRequest) -> HttpResponse:
    """Over ``SIGNUP_LIMIT_PER_HOUR``: the form again with what was typed (but the
    password), unvalidated, as validating would still say whether a slug is taken."""
    form = SignupForm(initial={key: request.POST.get(key, "")
                               for key in ("name", "slug", "owner_email")})
    refusal = "Too many signups from your network in the last hour; please try again later."
    return render(request, "tenants/signup.html", {"form": form, "refusal": refusal},
                  status=429)
