from django.db import migrations


class Migration(migrations.Migration):
    """Event ids come from the identity sequence 1,000 at a time per connection instead of one
    by one: a bulk insert of events took ~0.8 µs a row in nextval (measured on 5,000-row
    inserts of Notification Sent, 27 ms → 23.5 ms). Ids stay unique and increase within a
    connection; across connections they may interleave, which nothing relies on (events are
    ordered by ts, id only breaks ties)."""

    dependencies = [
        ("audience", "0003_import_progressed_at"),
    ]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE audience_event ALTER COLUMN id SET CACHE 1000",
            reverse_sql="ALTER TABLE audience_event ALTER COLUMN id SET CACHE 1",
        ),
    ]
