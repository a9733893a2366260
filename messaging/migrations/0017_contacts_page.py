"""The contacts page finds contacts through indexes: by tag, by the name's words, by the
number's start or end."""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
import django.db.models.functions.comparison
import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('messaging', '0016_campaigns'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='contact',
            index=django.contrib.postgres.indexes.GinIndex(fields=['tags'], name='contact_tags'),
        ),
        migrations.AddIndex(
            model_name='contact',
            index=django.contrib.postgres.indexes.GinIndex(django.contrib.postgres.search.SearchVector('name', config='simple'), name='contact_name_search'),
        ),
        migrations.AddIndex(
            model_name='contact',
            index=models.Index(django.db.models.functions.comparison.Collate(django.db.models.functions.text.Reverse('phone'), 'C'), name='contact_phone_suffix'),
        ),
    ]
