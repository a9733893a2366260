from django import forms
from django.core.exceptions import ValidationError

from tenants.services import tenant_validate


class SignupForm(forms.Form):
    name = forms.CharField(label="Company name", max_length=200)
    slug = forms.CharField(
        label="Address",
        max_length=30,
        help_text="3-30 lowercase letters, digits and hyphens; your portal's host name.",
    )
    owner_email = forms.EmailField(label="Your email")
    owner_password = forms.CharField(
        label="Password", widget=forms.PasswordInput(render_value=False), strip=False
    )

    def clean_slug(self) -> str:
        return self.cleaned_data["slug"].strip().lower()

    def clean(self) -> dict:
        """Every problem at once: the service's checks (address taken, weak password, ...)
        run even when a field already failed its own, and add nothing to a field that has
        an error already, so no message shows twice."""
        cleaned = super().clean()
        try:
            tenant_validate(**{name: cleaned.get(name, "") for name in self.fields})
        except ValidationError as exc:
            for field, errors in exc.error_dict.items():
                target = field if field in self.fields else None
                if target in self.errors:
                    continue
                for error in errors:
                    self.add_error(target, error)
        return cleaned
