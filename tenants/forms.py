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
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            tenant_validate(**cleaned)
        except ValidationError as exc:
            for field, errors in exc.error_dict.items():
                for error in errors:
                    self.add_error(field if field in self.fields else None, error)
        return cleaned
