"""The dashboard's traffic rollup (``messaging.traffic``); the history is counted once
here, so an upgraded tenant's dashboard goes on from its messages."""

from django.db import migrations, models

from messaging.traffic import BACKFILL_SQL


class Migration(migrations.Migration):

    dependencies = [
        ('messaging', '0017_contacts_page'),
    ]

    operations = [
        migrations.CreateModel(
            name='TrafficCount',
            fields=[
                ('period_start', models.DateTimeField(primary_key=True, serialize=False)),
                ('inbound', models.IntegerField(default=0)),
                ('outbound', models.IntegerField(default=0)),
                ('delivered', models.IntegerField(default=0)),
                ('not_delivered', models.IntegerField(default=0)),
            ],
        ),
        migrations.RunSQL(BACKFILL_SQL, migrations.RunSQL.noop),
    ]
