#!/bin/sh
# A planned switchover of the session Redis: the primary hands over to a replica and no acknowledged write is lost.
#   usage: switchover.sh [SENTINEL_HOST [SENTINEL_PORT]]          (default 127.0.0.1 26379: run inside a Sentinel)
#   env:   REDIS_CA_FILE (/run/secrets/redis_ca.crt), REDIS_ADMIN_PASSWORD_FILE (/run/secrets/redis_admin_password,
#          or REDISCLI_AUTH set), REDIS_ADMIN_USER (admin), SENTINEL_NAME (sessions), PAUSE_MS (15000: more than the
#          Sentinels' failover-timeout, 10 s in sentinel.conf)
# 0. every Sentinel sees each replica as a replica (one that remembers it as a primary would undo the promotion);
# 1. CLIENT PAUSE WRITE on the primary: writes (and write scripts) wait there, never fail, and nothing new is written;
# 2. every online replica has the primary's whole replication offset (asked of the replica, not the primary's ACK view);
# 3. SENTINEL FAILOVER: the Sentinels promote one of those replicas (Redis 7.0 Sentinel has no FAILOVER-based handover:
#    a forced failover promotes with REPLICAOF NO ONE, and would leave the old primary writable until it is converted);
# 4. as soon as a replica reports role master, its writes are paused too, the old primary becomes its replica and is
#    unpaused: the writes that waited on it get READONLY, never executed, and the app sends them again to the new
#    primary (app/src/redis-sentinel.ts), where they wait until a replica is online (min-replicas-to-write), then run.
# POSIX sh: runs on Debian and in the redis:*-alpine image. Exits non-zero (and unpauses) when a step does not happen.
set -eu

sentinel_host=${1:-127.0.0.1}
sentinel_port=${2:-26379}
name=${SENTINEL_NAME:-sessions}
ca=${REDIS_CA_FILE:-/run/secrets/redis_ca.crt}
user=${REDIS_ADMIN_USER:-admin}
pause_ms=${PAUSE_MS:-15000}
if [ -z "${REDISCLI_AUTH:-}" ]; then
    REDISCLI_AUTH=$(tr -d '\n' <"${REDIS_ADMIN_PASSWORD_FILE:-/run/secrets/redis_admin_password}")
fi
export REDISCLI_AUTH

cli() {
    host=$1
    port=$2
    shift 2
    # A node that does not answer (frozen, cut off) must not hang the script: 2 s per command.
    timeout 2 redis-cli -h "$host" -p "$port" --tls --cacert "$ca" --user "$user" --no-auth-warning "$@" | tr -d '\r'
}
field() { sed -n "s/^$1:\(.*\)/\1/p"; }
say() { echo "switchover: $*" >&2; }
# redis-cli's exit status does not tell an error reply: each command that must succeed is checked for its OK.
ok() {
    reply=$(cli "$@")
    [ "$reply" = OK ] || { say "$* on the primary: $reply"; exit 1; }
}

# Polls `$1` (a function) every 10 ms for at most $2 seconds and 2000 tries, or exits with the message $3.
poll() {
    deadline=$(($(date +%s) + $2))
    tries=0
    until $1; do
        tries=$((tries + 1))
        [ $tries -lt 2000 ] && [ "$(date +%s)" -le "$deadline" ] || { say "$3"; exit 1; }
        sleep 0.01
    done
}
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

# Every Sentinel must see each replica as a replica. One that still has a replica down as a primary (it was one
# before an earlier failover, and that Sentinel has not asked it since: replicas are asked every 10 s) would turn
# the replica it sees promoted back into a replica at once (+convert-to-slave), before it hears of this failover,
# leaving no primary at all. Seen in a chaos run right after a failover; so wait until none does (at most 12 s).
others=$(cli "$sentinel_host" "$sentinel_port" SENTINEL SENTINELS "$name" | awk '$0 == "ip" { getline; ip = $0 } $0 == "port" { getline; print ip ":" $0 }')
no_stale_roles() {
    for sentinel in "$sentinel_host:$sentinel_port" $others; do
        roles=$(cli "${sentinel%:*}" "${sentinel##*:}" SENTINEL REPLICAS "$name" | awk '$0 == "role-reported" { getline; print }')
        [ -n "$roles" ] && [ -z "$(echo "$roles" | grep -vx slave)" ] || return 1
    done
}
poll no_stale_roles 12 "a Sentinel still sees a replica of $old_host:$old_port as a primary; run again shortly"

paused=no
new_paused=no
new=
trap '[ "$paused" = yes ] && cli "$old_host" "$old_port" CLIENT UNPAUSE >/dev/null; [ "$new_paused" = yes ] && cli "${new%:*}" "${new##*:}" CLIENT UNPAUSE >/dev/null; true' EXIT
ok "$old_host" "$old_port" CLIENT PAUSE "$pause_ms" WRITE
paused=yes

caught_up() {
    offset=$(cli "$old_host" "$old_port" INFO replication | field master_repl_offset)
    for replica in $replicas; do
        [ "$(cli "${replica%:*}" "${replica##*:}" INFO replication | field master_repl_offset)" = "$offset" ] || return 1
    done
}
poll caught_up 2 "the replicas did not catch up with $old_host:$old_port"

cli "$sentinel_host" "$sentinel_port" SENTINEL FAILOVER "$name" | grep -qx OK || { say "SENTINEL FAILOVER refused"; exit 1; }

promoted() {
    for replica in $replicas; do
        if [ "$(cli "${replica%:*}" "${replica##*:}" ROLE | head -n 1)" = master ]; then
            new=$replica
            return 0
        fi
    done
    return 1
}
# Longer than the Sentinels' failover-timeout (10 s), after which they give up promoting: only then is unpausing the
# old primary safe (PAUSE_MS outlasts it).
poll promoted 12 "no replica was promoted"

# The new primary has no replica until the old one (or another, which the Sentinels reconfigure) has synced with it,
# and min-replicas-to-write refuses its writes (NOREPLICAS) meanwhile: they are held there instead, and answered once
# a replica is online (measured: a few hundred ms after a full sync; a chaos run had 16 of 300 answers refused so).
ok "${new%:*}" "${new##*:}" CLIENT PAUSE "$pause_ms" WRITE
new_paused=yes
ok "$old_host" "$old_port" REPLICAOF "${new%:*}" "${new##*:}"
ok "$old_host" "$old_port" CONFIG REWRITE
ok "$old_host" "$old_port" CLIENT UNPAUSE
paused=no
has_replica() { cli "${new%:*}" "${new##*:}" INFO replication | grep -q '^slave[0-9]*:.*state=online'; }
poll has_replica 10 "no replica is online on $new"
ok "${new%:*}" "${new##*:}" CLIENT UNPAUSE
new_paused=no

named() { [ "$(cli "$sentinel_host" "$sentinel_port" SENTINEL GET-MASTER-ADDR-BY-NAME "$name" | paste -sd: -)" = "$new" ]; }
poll named 15 "the Sentinel still names $old_host:$old_port"
echo "$old_host:$old_port -> $new"
