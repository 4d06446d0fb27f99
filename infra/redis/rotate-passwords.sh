#!/bin/sh
# Rotates the session Redis's and the cache Redis's ACL passwords with no moment where a client holding either the old
# or the new one is refused: `add` gives every user its new password beside the old one, on every node and Sentinel;
# the operator then moves every client onto the new values (restarts the apps, the exporters); `remove` takes the old
# ones away and checks that each is refused everywhere.
#   usage: rotate-passwords.sh add|remove SECRETS_DIR [SENTINEL_HOST [SENTINEL_PORT]]   (default 127.0.0.1 26379)
#   SECRETS_DIR: each redis_*_password file (make-secrets.sh) holds the NEW value, and <file>.previous the old one
#   (the files without a .previous are left as they are). Only hashes go into ACL SETUSER; the values that must be
#   sent in clear (masterauth, the Sentinels' auth-pass and sentinel-pass) go through redis-cli's standard input, so
#   no password shows in `ps`.
#   env: REDIS_CA_FILE (/run/secrets/redis_ca.crt; `none`: plaintext, the Kubernetes `single` overlay), REDIS_ADMIN_USER (admin), SENTINEL_NAME (sessions),
#        REDIS_NODES ("host:port ...": a group without Sentinels; the Sentinel is then not asked),
#        CACHE_NODES ("host:port ...": the catalogue's cache Redis, users cache and admin; none by default)
# Redis does not replicate ACLs, so each node is told; ACL SETUSER changes a user in place and no connection is dropped
# (checked on 7.0: a connection authenticated with a password that is then removed goes on). What a node loads at its
# next start is the caller's part: render-acl.sh renders both passwords while a .previous file exists. The data nodes'
# masterauth is set and CONFIG REWRITEn; a Sentinel's users, auth-pass and sentinel-pass are written to its config by
# SENTINEL FLUSHCONFIG. Both steps are idempotent: run one again after a failure.
# POSIX sh: runs on Debian and in the redis:*-alpine image.
set -eu

usage="usage: rotate-passwords.sh add|remove SECRETS_DIR [SENTINEL_HOST [SENTINEL_PORT]]"
step=${1:?$usage}
secrets=${2:?$usage}
sentinel_host=${3:-127.0.0.1}
sentinel_port=${4:-26379}
name=${SENTINEL_NAME:-sessions}
ca=${REDIS_CA_FILE:-/run/secrets/redis_ca.crt}
user=${REDIS_ADMIN_USER:-admin}
case $step in add | remove) ;; *) echo "$usage" >&2; exit 2 ;; esac
tls="--tls --cacert $ca"
[ "$ca" = none ] && tls=""

say() { echo "rotate-passwords: $*" >&2; }
value() {
    file=$secrets/$1
    [ -s "$file" ] || { say "missing secret $file"; exit 1; }
    sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' "$file" | tr -d '\n'
}
hash() { value "$1" | sha256sum | cut -d ' ' -f 1; }
has_previous() { [ -s "$secrets/$1.previous" ]; }

# add: the admin password everyone still has is the old one; remove: the new one, which add gave everyone.
if [ "$step" = add ] && has_previous redis_admin_password; then
    REDISCLI_AUTH=$(value redis_admin_password.previous)
else
    REDISCLI_AUTH=$(value redis_admin_password)
fi
export REDISCLI_AUTH

cli() {
    host=$1
    port=$2
    shift 2
    # A node that does not answer must not hang the script: 2 s per command.
    timeout 2 redis-cli -h "$host" -p "$port" $tls --user "$user" --no-auth-warning "$@" | tr -d '\r'
}
# `ACL SETUSER user #<hash>` (add) or `!<hash>` (remove) for each password that has a .previous, for these users.
# Removing a password already removed (a second run) is not an error.
acl_lines() {
    for pair in "$@"; do
        acl_user=${pair%%=*}
        file=${pair#*=}
        has_previous "$file" || continue
        if [ "$step" = add ]; then
            echo "ACL SETUSER $acl_user #$(hash "$file")"
        else
            echo "ACL SETUSER $acl_user !$(hash "$file.previous")"
        fi
    done
}
# Sends standard input's commands to host:port; every reply must be OK (redis-cli's exit status does not tell an
# error reply).
apply() {
    host=${1%:*}
    port=${1##*:}
    shift
    lines=$(cat)
    [ -n "$lines" ] || return 0
    replies=$(echo "$lines" | cli "$host" "$port")
    bad=$(echo "$replies" | grep -vx OK | grep -v 'password you are trying to remove from the user does not exist' || true)
    [ -z "$bad" ] || { say "$host:$port: $bad"; exit 1; }
}

node_users="app=redis_app_password replica=redis_replica_password sentinel=redis_sentinel_password exporter=redis_exporter_password admin=redis_admin_password"
sentinel_users="sentinel-app=redis_sentinel_app_password sentinel-peer=redis_sentinel_peer_password admin=redis_admin_password"
cache_users="cache=redis_cache_password admin=redis_admin_password"

if [ -n "${REDIS_NODES:-}" ]; then
    nodes=$REDIS_NODES
    sentinels=""
else
    set -- $(cli "$sentinel_host" "$sentinel_port" SENTINEL GET-MASTER-ADDR-BY-NAME "$name")
    [ $# -eq 2 ] || { say "the Sentinel at $sentinel_host:$sentinel_port names no primary \"$name\""; exit 1; }
    fields='$0 == "ip" { getline; ip = $0 } $0 == "port" { getline; print ip ":" $0 }'
    nodes="$1:$2 $(cli "$sentinel_host" "$sentinel_port" SENTINEL REPLICAS "$name" | awk "$fields")"
    sentinels="$sentinel_host:$sentinel_port $(cli "$sentinel_host" "$sentinel_port" SENTINEL SENTINELS "$name" | awk "$fields")"
fi

# Data nodes first, so the new `sentinel` password works everywhere before a Sentinel uses it.
for node in $nodes; do
    {
        acl_lines $node_users
        # Any node may become a replica: each authenticates to the primary with the replica password.
        if [ "$step" = add ] && has_previous redis_replica_password; then
            echo "CONFIG SET masterauth $(value redis_replica_password)"
            echo "CONFIG REWRITE"
        fi
    } | apply "$node"
done
for node in ${CACHE_NODES:-}; do acl_lines $cache_users | apply "$node"; done
# Every Sentinel knows the new peer password before any Sentinel sends it.
for sentinel in $sentinels; do acl_lines $sentinel_users | apply "$sentinel"; done
for sentinel in $sentinels; do
    {
        if [ "$step" = add ] && has_previous redis_sentinel_password; then echo "SENTINEL SET $name auth-pass $(value redis_sentinel_password)"; fi
        if [ "$step" = add ] && has_previous redis_sentinel_peer_password; then
            echo "SENTINEL CONFIG SET sentinel-pass $(value redis_sentinel_peer_password)"
        fi
        echo "SENTINEL FLUSHCONFIG"
    } | apply "$sentinel"
done

if [ "$step" = remove ]; then
    # Each old password must now be refused where its user lives: an unauthenticated connection sends AUTH.
    refused() {
        host=${1%:*}
        port=${1##*:}
        shift
        for pair in "$@"; do
            file=${pair#*=}
            has_previous "$file" || continue
            reply=$(printf 'AUTH %s %s\n' "${pair%%=*}" "$(value "$file.previous")" |
                env -u REDISCLI_AUTH timeout 2 redis-cli -h "$host" -p "$port" $tls | tr -d '\r')
            case $reply in WRONGPASS*) ;; *) say "$host:$port still accepts the old password of ${pair%%=*}: $reply"; exit 1 ;; esac
        done
    }
    count=0
    for node in $nodes; do refused "$node" $node_users; count=$((count + 1)); done
    for node in ${CACHE_NODES:-}; do refused "$node" $cache_users; count=$((count + 1)); done
    for sentinel in $sentinels; do refused "$sentinel" $sentinel_users; count=$((count + 1)); done
    echo "old passwords removed and refused on $count servers"
else
    echo "new passwords added on $(echo $nodes ${CACHE_NODES:-} $sentinels | wc -w) servers"
fi
