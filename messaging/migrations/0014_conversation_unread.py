"""The inbox's unread badges read only the unread conversations."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('messaging', '0013_response_waits'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='conversation',
            index=models.Index(condition=models.Q(('unread_count__gt', 0)), fields=['status', 'assignee'], name='conversation_unread'),
        ),
    ]
