#!/bin/sh
# Entrypoint of the compose Redis services. As root: render the ACL from the compose secrets into the tmpfs
# /run/redis, and this process's own config into its volume, once (Sentinel rewrites it, so it must outlive the
# container); then run the image's own entrypoint, which drops to the redis user and starts redis-server.
#   compose-entrypoint.sh node NAME [PRIMARY]   a data node reached as NAME; a replica of PRIMARY on first boot
#   compose-entrypoint.sh sentinel PRIMARY      a Sentinel watching PRIMARY (first boot; then whichever is primary)
#   compose-entrypoint.sh cache                 the cache Redis (cache.conf: evicting, nothing persisted)
#   compose-entrypoint.sh cluster-node NAME     a Redis Cluster node reached as NAME (profile cluster)
#   compose-entrypoint.sh cluster-create NODE…  joins the nodes into a cluster, once (three primaries, a replica each)
set -eu
# Redis writes its files (AOF, and the config a failover's CONFIG REWRITE rewrites, with masterauth in it) with the
# process umask: the owner's alone. The image's entrypoint keeps a umask that is not 0022.
umask 077
# Where compose mounts things; overridable only so check:infra can run this script outside a container.
conf=${REDIS_CONF_DIR:-/usr/local/etc/redis}
secrets=${REDIS_SECRETS_DIR:-/run/secrets}
run=${REDIS_RUN_DIR:-/run/redis}
data=${REDIS_DATA_DIR:-/data}
case "${1:?usage: compose-entrypoint.sh node NAME [PRIMARY] | sentinel PRIMARY | cache | cluster-node NAME | cluster-create NODE...}" in
node)
    sh "$conf/render-acl.sh" "$secrets" "$run/users.acl"
    chown redis:redis "$run/users.acl"
    sh "$conf/render-node.sh" "$secrets" "$conf" "$data/node.conf" "$2" ${3:+"$3" 6379}
    exec docker-entrypoint.sh redis-server "$data/node.conf" --bind 0.0.0.0 --dir "$data"
    ;;
cache)
    sh "$conf/render-acl.sh" "$secrets" "$run/users.acl" cache
    chown redis:redis "$run/users.acl"
    exec docker-entrypoint.sh redis-server "$conf/cache.conf" --include "$conf/tls.conf" --bind 0.0.0.0 --dir "$data"
    ;;
cluster-node)
    sh "$conf/render-acl.sh" "$secrets" "$run/users.acl" cluster
    chown redis:redis "$run/users.acl"
    sh "$conf/render-node.sh" --cluster "$secrets" "$conf" "$data/node.conf" "$2"
    exec docker-entrypoint.sh redis-server "$data/node.conf" --bind 0.0.0.0 --dir "$data"
    ;;
cluster-create)
    shift
    REDISCLI_AUTH=$(cat "$secrets/redis_admin_password")
    export REDISCLI_AUTH
    cli() { redis-cli --tls --cacert "$secrets/redis_ca.crt" --user admin --no-auth-warning "$@"; }
    # Once: a later `up` finds the cluster formed (its topology lives in each node's /data/nodes.conf).
    if cli -h "$1" cluster info | grep -q '^cluster_state:ok'; then
        echo "compose-entrypoint.sh: the cluster is already formed"
        exit 0
    fi
    # CLUSTER MEET takes addresses, not names (redis/redis#11148): resolve each service on the compose network.
    addresses=
    for name in "$@"; do addresses="$addresses $(getent hosts "$name" | awk '{ print $1; exit }'):6379"; done
    # shellcheck disable=SC2086 # one word per node
    cli --cluster create $addresses --cluster-replicas 1 --cluster-yes
    exit 0
    ;;
sentinel)
    sh "$conf/render-sentinel.sh" "$secrets" "$conf/sentinel.conf" "$data/sentinel.conf" "$2" 6379
    exec docker-entrypoint.sh redis-server "$data/sentinel.conf" --sentinel --bind 0.0.0.0 --dir "$data"
    ;;
esac
echo "compose-entrypoint.sh: unknown role $1" >&2
exit 2
