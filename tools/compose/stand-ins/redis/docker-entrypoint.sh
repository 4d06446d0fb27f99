#!/bin/sh
# The official image's entrypoint (docker-library/redis docker-entrypoint.sh), with setpriv for su-exec/gosu.
set -e
# A first argument that is an option or a .conf file means redis-server.
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
    set -- redis-server "$@"
fi
if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
    find . \! -user redis -exec chown redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi
# Files Redis writes (AOF, RDB, rewritten configs) readable by nobody else.
if [ "$(umask)" = '0022' ]; then
    umask 0077
fi
exec "$@"
