from django.db import migrations


def simulator_connection(apps, schema_editor):
    # A connection named `simulator` always exists.
    ProviderConnection = apps.get_model("tenants", "ProviderConnection")
    ProviderConnection.objects.get_or_create(name="simulator", defaults={"kind": "simulator"})


class Migration(migrations.Migration):
    dependencies = [("tenants", "0002_connections_and_routes")]

    operations = [migrations.RunPython(simulator_connection, migrations.RunPython.noop)]
