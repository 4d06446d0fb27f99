#!/bin/sh
# The official image's entrypoint (docker-library/memcached docker-entrypoint.sh).
set -e
if [ "${1#-}" != "$1" ]; then
    set -- memcached "$@"
fi
exec "$@"
