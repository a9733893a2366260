import zoneinfo

from django import forms

from accounts.models import ApiKey, Role

SCOPE_LABELS = {
    "messages:send": "messages:send: send messages, reply and act on conversations",
    "messages:read": "messages:read: read messages and conversations",
    "contacts": "contacts: contacts and opt-outs",
    "settings": "settings: senders, rules, hours, forwarding, surveys, opt-out settings",
    "campaigns": "campaigns: subscription lists, their members and imports",
}


class InvitationForm(forms.Form):
    email = forms.EmailField(label="Email")
    role = forms.ChoiceField(
        label="Role", choices=[(Role.AGENT, "Agent"), (Role.ADMIN, "Admin")], initial=Role.AGENT
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Role.choices)

    def __init__(self, *args, owner_choice: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not owner_choice:  # only owners make owners (accounts.services)
            self.fields["role"].choices = [(Role.ADMIN, "Admin"), (Role.AGENT, "Agent")]


class AcceptInvitationForm(forms.Form):
    name = forms.CharField(label="Your name", max_length=150)
    password = forms.CharField(label="Password", widget=forms.PasswordInput, strip=False)


class ApiKeyForm(forms.Form):
    name = forms.CharField(label="Name", max_length=ApiKey._meta.get_field("name").max_length,
                           help_text="What will use it, e.g. CRM sync.")
    scopes = forms.MultipleChoiceField(
        label="Scopes", required=False, widget=forms.CheckboxSelectMultiple,
        choices=[(scope, SCOPE_LABELS[scope]) for scope in ApiKey.SCOPES],
        help_text="None ticked: every scope.")


class TenantSettingsForm(forms.Form):
    name = forms.CharField(label="Company name", max_length=200)
    timezone = forms.ChoiceField(
        label="Timezone",
        help_text="Business hours, rule schedules and the inbox's times use it.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = [(zone, zone)
                                           for zone in sorted(zoneinfo.available_timezones())]
