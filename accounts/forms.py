from django import forms

from accounts.models import Role


class InvitationForm(forms.Form):
    email = forms.EmailField(label="Email")
    role = forms.ChoiceField(
        label="Role", choices=[(Role.AGENT, "Agent"), (Role.ADMIN, "Admin")], initial=Role.AGENT
    )


class AcceptInvitationForm(forms.Form):
    name = forms.CharField(label="Your name", max_length=150)
    password = forms.CharField(label="Password", widget=forms.PasswordInput, strip=False)
