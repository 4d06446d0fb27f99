#!/bin/sh
# Renders the Redis ACL file from password files, so no password is committed
# and none is stored in clear text (Redis accepts SHA-256 hashes: "#<hex>").
#   usage: render-acl.sh SECRETS_DIR OUTPUT_FILE [sessions|cluster|cache]
# SECRETS_DIR holds the redis_*_password files (infra/docker/make-secrets.sh). During a rotation
# (rotate-passwords.sh) a <file>.previous holds a user's old password: the user then has both.
# `sessions` (the default): the session Redis's users; `cluster`: the same as a
# Redis Cluster's, the app also allowed CLUSTER SLOTS (node-redis's discovery); `cache`: the cache
# Redis's (infra/redis/cache.conf), `cache` and `admin` only. POSIX sh: runs on Debian (dash) and in the
# redis:*-alpine image (busybox).
set -eu

secrets_dir=${1:?usage: render-acl.sh SECRETS_DIR OUTPUT_FILE}
output=${2:?usage: render-acl.sh SECRETS_DIR OUTPUT_FILE}
role=${3:-sessions}

password_hash() {
    file="$secrets_dir/$1"
    if [ ! -s "$file" ]; then
        echo "render-acl.sh: missing or empty secret $file (run infra/docker/make-secrets.sh)" >&2
        exit 1
    fi
    # A one-line secret, trimmed at both ends like the app's *_FILE reader (String.prototype.trim).
    value=$(sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' "$file" | tr -d '\n')
    printf '%s' "$value" | sha256sum | cut -d ' ' -f 1
}
# "#<hash>", and " #<hash>" of the previous password while one is kept (a rotation under way).
passwords() {
    list="#$(password_hash "$1")"
    if [ -s "$secrets_dir/$1.previous" ]; then list="$list #$(password_hash "$1.previous")"; fi
    printf '%s' "$list"
}

# node-redis's handshake: HELLO 3 AUTH app <password> SETNAME <instance> needs no
# grant (HELLO and AUTH are exempt from command rules, and HELLO's SETNAME is not
# a separate CLIENT SETNAME). Then CLIENT SETINFO LIB-NAME/LIB-VER, whose failure
# node-redis ignores: granted where it exists (Redis >= 7.2; compose runs 7.4,
# Debian 12 ships 7.0), because naming an unknown subcommand aborts startup.
# (CLIENT MAINT_NOTIFICATIONS, also sent by node-redis 6, exists only in Redis
# Cloud/Software: an unknown subcommand here, never an ACL question.)
setinfo=""
version=$("${REDIS_SERVER:-redis-server}" --version | sed -n 's/.* v=\([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
set -- $version
if [ "${1:-0}" -gt 7 ] || { [ "${1:-0}" -eq 7 ] && [ "${2:-0}" -ge 2 ]; }; then
    setinfo=" +client|setinfo"
fi

admin_hash=$(passwords redis_admin_password)
umask 077
tmp="$output.tmp.$$"

if [ "$role" = cache ]; then
    # cache: its own prefix, and exactly what app/src/catalog/cache.ts sends
    # (EVAL runs GET and SET under the same rules, key by key).
    cache_hash=$(passwords redis_cache_password)
    cat >"$tmp" <<ACL
user default off resetpass resetkeys resetchannels -@all
user cache on $cache_hash resetkeys ~cache:* resetchannels -@all +ping +get +set +del +eval$setinfo
user admin on $admin_hash ~* &* +@all
ACL
    mv "$tmp" "$output"
    exit 0
fi

app_hash=$(passwords redis_app_password)
discovery=""
if [ "$role" = cluster ]; then discovery=" +cluster|slots"; fi
replica_hash=$(passwords redis_replica_password)
sentinel_hash=$(passwords redis_sentinel_password)
exporter_hash=$(passwords redis_exporter_password)

# app: exactly what the app sends. /readyz: PING. The session store: EVAL of
# its read script (GET, PTTL, and EXPIRE to slide the idle timeout once a
# minute), SET NX/XX, DEL. The login throttle: INCR,
# EXPIRE NX, TTL, DECR, DEL, without MULTI (app/src/throttle.ts says why).
# WAIT: after a login's write, for a replica's acknowledgement (Sentinel mode).
# "Your sessions" (app/src/session-index.ts): one EVAL per login, logout, list
# and revoke, running SET, DEL, PTTL, EXPIRE and HGETALL, HSET, HDEL on the
# user's index sess-idx:{tag} (a script's commands are checked against the
# caller's ACL, key by key).
#
# replica and sentinel: the minimal sets of redis.io's "ACL rules for Sentinel
# and Replicas": a replica syncs (PSYNC, REPLCONF); a Sentinel watches (PING,
# INFO, ROLE, its hello channel) and reconfigures (SLAVEOF, CONFIG REWRITE,
# CLIENT KILL, inside MULTI ... EXEC). Every node has every user: any node may
# become the primary. replica also has SYNC, for backups taken from a replica
# (`redis-cli --rdb`, tools/backup): it reads no more than PSYNC already gives a
# replica (the whole dataset), so the backup job needs no admin password. On a
# cluster it also asks CLUSTER SLOTS (the slot map, no data), to find each
# shard's replica.
#
# exporter: exactly what prometheus-redis-exporter 1.45 (Debian 12's) sends per
# scrape with the flags the stack, compose and Kubernetes give it (no key checks,
# no Lua script, no client list, no PING on connect): CLIENT SETNAME, INFO (ALL),
# LATENCY LATEST, SLOWLOG LEN and SLOWLOG GET 1. No keys and no channels. It
# watches a Sentinel group's (or the single node's) data nodes only: on a Cluster
# node it would also send CLUSTER INFO, not granted (the alerts count one group's
# primaries and replicas). It also sends CONFIG GET *, refused on purpose: the
# answer holds masterauth, the replica user's password in clear. The exporter
# then skips its redis_config_* metrics (maxmemory still comes from INFO) and each
# refusal adds to one entry of ACL LOG (its count grows, the log does not).
#
# default: off and without a password, so no connection can ever act as it
# (AUTH as default fails, and a new connection is only logged in as default if
# it is on AND nopass). Its rules matter in one place: Redis replays the AOF at
# startup through a fake client bound to the default user, and EXEC re-checks
# each queued command against that user's rules (fixed upstream by
# redis/redis#14545: in 8.6, backported to 8.4 in June 2026, never in 7.x).
# With `-@all`, every MULTI ... EXEC block of the AOF was dropped on restart.
# The app sends no MULTI, but Redis writes one itself when a write first
# lazily deletes its expired key (DEL or UNLINK, then INCR, DECR or SET NX):
# measured on 7.0, the same code in 7.4; it dropped a whole login-failure
# window. Hence exactly the commands such a block can hold, on the app's keys
# only; PEXPIREAT (the AOF's form of EXPIRE) for AOFs written by app versions
# that still used MULTI. A script that writes more than once is written to the
# AOF as MULTI ... EXEC of its writes too (measured on 7.0): hence HSET, HDEL
# and DEL/SET/PEXPIREAT on the index keys, ~sess-idx:*. Transactions of other
# users on other keys are still dropped by an affected Redis: operators should
# not write with MULTI.
cat >"$tmp" <<ACL
user default off resetpass resetkeys ~sess:* ~sess-idx:* ~login-fail:* resetchannels -@all +set +del +unlink +incr +decr +pexpireat +hset +hdel
user app on $app_hash resetkeys ~sess:* ~sess-idx:* ~login-fail:* resetchannels -@all +ping +get +set +del +incr +decr +expire +ttl +wait +eval +hgetall +hset +hdel +pttl$setinfo$discovery
user replica on $replica_hash resetkeys resetchannels -@all +psync +sync +replconf +ping$discovery
user exporter on $exporter_hash resetkeys resetchannels -@all +info +client|setname +latency|latest +slowlog|len +slowlog|get
user sentinel on $sentinel_hash resetkeys allchannels -@all +multi +exec +slaveof +ping +subscribe +publish +info +role +config|rewrite +client|setname +client|kill +script|kill
user admin on $admin_hash ~* &* +@all
ACL
mv "$tmp" "$output"
