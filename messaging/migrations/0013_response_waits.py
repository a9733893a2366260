"""Waits for a staff reply recorded as they happen (``messaging.response_waits``); the
history is derived once here, so the dashboard's response times go on from it."""

from django.conf import settings
from django.db import migrations, models

from messaging.response_waits import BACKFILL_SQL


class Migration(migrations.Migration):

    dependencies = [
        ('messaging', '0012_dashboard_message_created'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='conversation',
            name='waiting_since',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='message',
            name='answered_wait_from',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name='conversation',
            index=models.Index(condition=models.Q(('waiting_since__isnull', False)), fields=['waiting_since'], name='conversation_waiting'),
        ),
        migrations.AddIndex(
            model_name='message',
            index=models.Index(condition=models.Q(('answered_wait_from__isnull', False)), fields=['answered_wait_from'], name='message_answered_wait'),
        ),
        migrations.RunSQL(BACKFILL_SQL, migrations.RunSQL.noop),
    ]
