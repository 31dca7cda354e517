from django.db import migrations

# Find People matches identities by prefix and lists them in identity order. A btree on the
# identity in the "C" collation serves both (WHERE identity COLLATE "C" LIKE 'abc%' ORDER BY
# identity COLLATE "C" LIMIT 51 reads 51 index entries), whatever the database's own collation;
# the unique index, in the database collation, cannot serve LIKE outside the C locale.
INDEX_SQL = (
    'CREATE INDEX IF NOT EXISTS profile_identity_c ON audience_profile ((identity COLLATE "C"))'
)


class Migration(migrations.Migration):
    dependencies = [
        ("audience", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(INDEX_SQL, reverse_sql="DROP INDEX IF EXISTS profile_identity_c"),
    ]
