#!/bin/sh
# Entrypoint of the compose memcached nodes (profile memcached): memcached with TLS (-Z) from the stack's certificate
# and ASCII authentication (-Y) of the `cache` user with the cache password secret. memcached reads its
# authentication file by name (not from a pipe), so it is written, readable by memcached's user only, into the
# container's own /tmp: gone with the container. (A tmpfs would keep it off the disk, but Docker 20.10 remounts a
# restarted container's tmpfs root-owned, where memcached's unprivileged user cannot write it again.)
# Sessions never go here: memcached has no replication and no persistence.
set -eu
secrets=${MEMCACHED_SECRETS_DIR:-/run/secrets}
authfile=${MEMCACHED_AUTH_FILE:-/tmp/memcached-auth}
umask 077
printf 'cache:%s\n' "$(cat "$secrets/redis_cache_password")" >"$authfile"
# -m: the item memory in MB, as for the cache Redis's maxmemory; LRU eviction is memcached's only policy.
exec memcached -m "${MEMCACHED_MEMORY_MB:-64}" -Z \
    -o "ssl_chain_cert=$secrets/redis_server.crt,ssl_key=$secrets/redis_server.key" -Y "$authfile"
