"""Keys made with every scope get the new ``campaigns`` scope: "no scope ticked" meant all
of them, and still does."""

from django.db import migrations

BEFORE = {"messages:send", "messages:read", "contacts", "settings"}


def add_campaigns(apps, schema_editor):
    ApiKey = apps.get_model("accounts", "ApiKey")
    for key in ApiKey.objects.all():
        if BEFORE <= set(key.scopes) and "campaigns" not in key.scopes:
            key.scopes = [*key.scopes, "campaigns"]
            key.save(update_fields=["scopes"])


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_idempotentrequest")]

    operations = [migrations.RunPython(add_campaigns, migrations.RunPython.noop)]
