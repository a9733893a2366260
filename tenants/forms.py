from django import forms
from django.core.exceptions import ValidationError

from tenants.connections import NAME_PATTERN, settings_problems
from tenants.models import ProviderConnection, mask_secret
from tenants.provider_kinds import provider_kind
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


# --- Provider connections (the console's form and the admin's) -------------------------------


def setting_field(key: str) -> str:
    return f"setting_{key}"


class ProviderConnectionForm(forms.ModelForm):
    """Name, kind and state as model fields; settings as one field per key of the kind.

    Secrets are write-only: their inputs start blank and a blank secret keeps the stored
    value, so the page never carries a credential back to the browser.
    """

    setting_keys: tuple[str, ...] = ()

    class Meta:
        model = ProviderConnection
        fields = ["name", "kind", "is_active"]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if not NAME_PATTERN.match(name or ""):
            raise forms.ValidationError(
                "Use 1-50 lowercase letters, digits, hyphens and underscores (it appears in "
                "the webhook URLs).")
        return name

    def clean(self) -> dict:
        cleaned = super().clean()
        kind = self.instance.kind if self.instance.pk else cleaned.get("kind")
        declared = provider_kind(kind or "")
        if declared is None:
            return cleaned
        settings = dict(self.instance.settings) if self.instance.pk else {}
        for key in self.setting_keys:
            value = cleaned.get(setting_field(key)) or ""
            if value:
                settings[key] = value
            elif key not in declared.secrets:
                settings.pop(key, None)  # a cleared plain setting is removed
        for key, message in settings_problems(kind, settings):
            field = setting_field(key) if key in self.setting_keys else None
            self.add_error(field, message)
        self.new_settings = settings
        return cleaned


def connection_form_for(kind: str | None, instance: ProviderConnection | None):
    """A form class with one field per setting of ``kind`` (none while it is unknown)."""
    declared = provider_kind(kind or "")
    keys = tuple(sorted(declared.keys)) if declared else ()
    current = instance.settings if instance is not None else {}
    attrs: dict = {"setting_keys": keys}
    for key in keys:
        if key in declared.secrets:
            help_text = ("Secret. Leave blank to keep the current value "
                         f"({mask_secret(str(current[key]))})." if key in current
                         else "Secret; shown masked once saved.")
            attrs[setting_field(key)] = forms.CharField(
                label=key, required=False, strip=False, help_text=help_text,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
            )
        else:
            default = declared.default(key)
            attrs[setting_field(key)] = forms.CharField(
                label=key, required=False, initial=current.get(key, ""),
                help_text=" ".join(filter(None, [
                    "Leave blank to remove it." if key in current else "",
                    f"Default: {default}." if default else ""])),
            )
    return type(f"{(kind or 'Any').title()}ConnectionForm", (ProviderConnectionForm,), attrs)
