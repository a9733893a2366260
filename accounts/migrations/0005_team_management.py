"""Invitations record what became of their email (sent, retrying, failed and why)."""

from django.db import migrations, models


def mark_sent(apps, schema_editor):
    Invitation = apps.get_model("accounts", "Invitation")
    Invitation.objects.filter(sent_at__isnull=False).update(mail_status="sent")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_apikey_campaigns_scope")]

    operations = [
        migrations.AddField(
            model_name="invitation", name="mail_status",
            field=models.CharField(choices=[("sending", "Sending"), ("sent", "Sent"),
                                            ("retrying", "Not sent yet, retrying"),
                                            ("failed", "Not sent")],
                                   default="sending", max_length=10),
        ),
        migrations.AddField(
            model_name="invitation", name="mail_error",
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.RunPython(mark_sent, migrations.RunPython.noop),
    ]
