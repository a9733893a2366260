import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tenants', '0008_routes_and_operator_audit'),
    ]

    operations = [
        migrations.AddField(
            model_name='tenant',
            name='status',
            field=models.CharField(choices=[('active', 'Active'), ('suspended', 'Suspended'), ('closed', 'Closed')], default='active', max_length=10),
        ),
        migrations.AddField(
            model_name='tenant',
            name='status_reason',
            field=models.CharField(blank=True, max_length=500),
        ),
        migrations.AddField(
            model_name='tenant',
            name='monthly_segment_cap',
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='tenant',
            name='segments_per_second_cap',
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='tenant',
            name='max_senders',
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name='Price',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('prefix', models.CharField(max_length=6, unique=True)),
                ('price_per_segment', models.DecimalField(decimal_places=6, max_digits=12)),
                ('currency', models.CharField(default='USD', max_length=3)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={'ordering': ['prefix']},
        ),
        migrations.CreateModel(
            name='QuotaUsage',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('month', models.DateField()),
                ('segments', models.BigIntegerField(default=0)),
                ('warned_80_at', models.DateTimeField(blank=True, null=True)),
                ('warned_100_at', models.DateTimeField(blank=True, null=True)),
                ('emailed_80_at', models.DateTimeField(blank=True, null=True)),
                ('emailed_100_at', models.DateTimeField(blank=True, null=True)),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='quota_usage', to='tenants.tenant')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('tenant', 'month'), name='one_quota_usage_per_month')],
            },
        ),
        migrations.CreateModel(
            name='TenantStatusChange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('previous_status', models.CharField(max_length=10)),
                ('status', models.CharField(max_length=10)),
                ('change', models.CharField(blank=True, max_length=500)),
                ('reason', models.CharField(blank=True, max_length=500)),
                ('actor', models.CharField(max_length=150)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='status_changes', to='tenants.tenant')),
            ],
            options={'ordering': ['-id']},
        ),
        migrations.CreateModel(
            name='UsageCounter',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('direction', models.CharField(max_length=10)),
                ('sender', models.CharField(max_length=20)),
                ('connection', models.CharField(max_length=50)),
                ('country', models.CharField(blank=True, max_length=2)),
                ('prefix', models.CharField(blank=True, max_length=6)),
                ('messages', models.BigIntegerField(default=0)),
                ('segments', models.BigIntegerField(default=0)),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='usage', to='tenants.tenant')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('tenant', 'day', 'direction', 'sender', 'connection', 'country', 'prefix'), name='one_usage_counter_per_key')],
            },
        ),
    ]
