from django import forms
from django.contrib.auth.forms import AuthenticationForm

from tenants.models import Route


class OperatorLoginForm(AuthenticationForm):
    """Only operator staff sign in here (accounts of the public schema marked staff)."""

    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        if not user.is_staff:
            raise forms.ValidationError(self.error_messages["invalid_login"],
                                        code="invalid_login",
                                        params={"username": self.username_field.verbose_name})


class RouteForm(forms.Form):
    name = forms.CharField(max_length=Route.NAME_MAX,
                           help_text="Senders name it as route:<name>; it never changes.")
    cheapest_first = forms.BooleanField(
        required=False, label="Cheapest first",
        help_text="Entries sharing the longest matching prefix are tried by cost per "
                  "segment rather than in the order written.")
    entries = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false"}),
        help_text="One entry per line: a destination prefix (+ and up to 15 digits; + alone "
                  "matches every number), the connections in order of preference separated "
                  "by commas, and optionally the cost per segment. Example: "
                  "+44 eu-main,eu-backup 0.035")
