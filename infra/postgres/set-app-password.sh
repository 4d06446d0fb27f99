#!/bin/sh
# Gives the least-privilege role catalog_app (created NOLOGIN by app/db/migrations/003) a login password read from a
# secret file, so no password is in a migration. Run as the database owner after migrating:
#   usage: set-app-password.sh PASSWORD_FILE   (psql connection from the usual PG* variables)
# In compose, mount it into /docker-entrypoint-initdb.d/ only after the migration has created the role.
set -eu
file=${1:?usage: set-app-password.sh PASSWORD_FILE}
if [ ! -s "$file" ]; then
    echo "set-app-password.sh: missing or empty secret $file" >&2
    exit 1
fi
# Trimmed like the app's *_FILE reader; passed as a psql variable and quoted by psql (:'pw'), never interpolated by sh.
password=$(sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' "$file" | tr -d '\n')
printf '%s\n' "ALTER ROLE catalog_app LOGIN PASSWORD :'pw';" | psql -v ON_ERROR_STOP=1 -q -v pw="$password"
