#!/bin/sh
# A planned switchover of the session Redis: the primary hands over to a replica and no acknowledged write is lost.
#   usage: switchover.sh [SENTINEL_HOST [SENTINEL_PORT]]          (default 127.0.0.1 26379: run inside a Sentinel)
#   env:   REDIS_CA_FILE (/run/secrets/redis_ca.crt), REDIS_ADMIN_PASSWORD_FILE (/run/secrets/redis_admin_password,
#          or REDISCLI_AUTH set), REDIS_ADMIN_USER (admin), SENTINEL_NAME (sessions), PAUSE_MS (10000)
# 1. CLIENT PAUSE WRITE on the primary: writes (and write scripts) wait there, never fail, and nothing new is written;
# 2. every online replica has the primary's whole replication offset (asked of the replica, not the primary's ACK view);
# 3. SENTINEL FAILOVER: the Sentinels promote one of those replicas (Redis 7.0 Sentinel has no FAILOVER-based handover:
#    a forced failover promotes with REPLICAOF NO ONE, and would leave the old primary writable until it is converted);
# 4. as soon as a replica reports role master, the old primary becomes its replica (so the new primary has a replica
#    at once: min-replicas-to-write) and is unpaused: the writes that waited on it get READONLY, never executed, and
#    the app sends them again to the new primary (app/src/redis-sentinel.ts).
# POSIX sh: runs on Debian and in the redis:*-alpine image. Exits non-zero (and unpauses) when a step does not happen.
set -eu

sentinel_host=${1:-127.0.0.1}
sentinel_port=${2:-26379}
name=${SENTINEL_NAME:-sessions}
ca=${REDIS_CA_FILE:-/run/secrets/redis_ca.crt}
user=${REDIS_ADMIN_USER:-admin}
pause_ms=${PAUSE_MS:-10000}
if [ -z "${REDISCLI_AUTH:-}" ]; then
    REDISCLI_AUTH=$(tr -d '\n' <"${REDIS_ADMIN_PASSWORD_FILE:-/run/secrets/redis_admin_password}")
fi
export REDISCLI_AUTH

cli() {
    host=$1
    port=$2
    shift 2
    redis-cli -h "$host" -p "$port" --tls --cacert "$ca" --user "$user" --no-auth-warning "$@" | tr -d '\r'
}
field() { sed -n "s/^$1:\(.*\)/\1/p"; }
say() { echo "switchover: $*" >&2; }

set -- $(cli "$sentinel_host" "$sentinel_port" SENTINEL GET-MASTER-ADDR-BY-NAME "$name")
[ $# -eq 2 ] || { say "the Sentinel at $sentinel_host:$sentinel_port names no primary \"$name\""; exit 1; }
old_host=$1
old_port=$2
# ip=…,port=…,state=online of each replica the primary serves now. A replica still syncing could be the one the
# Sentinel promotes, without everything: then refuse, and run again once it is online.
replication=$(cli "$old_host" "$old_port" INFO replication)
replicas=$(echo "$replication" | sed -n 's/^slave[0-9]*:ip=\([^,]*\),port=\([0-9]*\),state=online.*/\1:\2/p')
[ -n "$replicas" ] || { say "$old_host:$old_port has no online replica"; exit 1; }
[ "$(echo "$replicas" | wc -l)" -eq "$(echo "$replication" | field connected_slaves)" ] ||
    { say "a replica of $old_host:$old_port is still syncing"; exit 1; }

cli "$old_host" "$old_port" CLIENT PAUSE "$pause_ms" WRITE >/dev/null
paused=yes
trap '[ "$paused" = yes ] && cli "$old_host" "$old_port" CLIENT UNPAUSE >/dev/null' EXIT

caught_up() {
    offset=$(cli "$old_host" "$old_port" INFO replication | field master_repl_offset)
    for replica in $replicas; do
        [ "$(cli "${replica%:*}" "${replica##*:}" INFO replication | field master_repl_offset)" = "$offset" ] || return 1
    done
}
# Bounded polls: 200 × 10 ms at most, plus the round trips.
tries=0
until caught_up; do
    tries=$((tries + 1))
    [ $tries -lt 200 ] || { say "the replicas did not catch up with $old_host:$old_port"; exit 1; }
    sleep 0.01
done

cli "$sentinel_host" "$sentinel_port" SENTINEL FAILOVER "$name" | grep -qx OK || { say "SENTINEL FAILOVER refused"; exit 1; }

promoted() {
    for replica in $replicas; do
        if [ "$(cli "${replica%:*}" "${replica##*:}" ROLE | head -n 1)" = master ]; then
            echo "$replica"
            return 0
        fi
    done
    return 1
}
tries=0
until new=$(promoted); do
    tries=$((tries + 1))
    [ $tries -lt 500 ] || { say "no replica was promoted"; exit 1; }
    sleep 0.01
done

cli "$old_host" "$old_port" REPLICAOF "${new%:*}" "${new##*:}" >/dev/null
cli "$old_host" "$old_port" CONFIG REWRITE >/dev/null
cli "$old_host" "$old_port" CLIENT UNPAUSE >/dev/null
paused=no

tries=0
until [ "$(cli "$sentinel_host" "$sentinel_port" SENTINEL GET-MASTER-ADDR-BY-NAME "$name" | paste -sd: -)" = "$new" ]; do
    tries=$((tries + 1))
    [ $tries -lt 1000 ] || { say "the Sentinel still names $old_host:$old_port"; exit 1; }
    sleep 0.01
done
echo "$old_host:$old_port -> $new"
