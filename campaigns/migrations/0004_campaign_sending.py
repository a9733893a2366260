from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0003_links_and_reply_actions'),
    ]

    operations = [
        migrations.AddField(
            model_name='campaign',
            name='audience_cursor',
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='campaign',
            name='audience_done_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
