#!/bin/sh
# Writes a data node's own config file, once: Sentinel rewrites it at runtime (CONFIG REWRITE records which node
# this one replicates), so it must be a writable per-node copy that survives restarts, never the shipped file.
#   usage: render-node.sh [--cluster] SECRETS_DIR CONF_DIR OUTPUT NAME [PRIMARY_HOST PRIMARY_PORT]
# --cluster: a Redis Cluster node (cluster.conf instead of the Sentinel group's replication.conf).
# CONF_DIR holds the shipped redis.conf, tls.conf and replication.conf. NAME is how others reach this node (its compose service name;
# 127.0.0.1 locally). With PRIMARY_*, the node starts as its replica (first boot only: after that Sentinel owns the
# topology). POSIX sh: runs on Debian and in the redis:*-alpine image.
set -eu

usage="usage: render-node.sh [--cluster] SECRETS_DIR CONF_DIR OUTPUT NAME [PRIMARY_HOST PRIMARY_PORT]"
group=replication
if [ "${1:-}" = --cluster ]; then
    group=cluster
    shift
fi
secrets_dir=${1:?$usage}
conf_dir=${2:?$usage}
output=${3:?$usage}
name=${4:?$usage}
[ -s "$output" ] && exit 0

password=$(sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' "$secrets_dir/redis_replica_password" | tr -d '\n')
[ -n "$password" ] || { echo "render-node.sh: missing secret $secrets_dir/redis_replica_password" >&2; exit 1; }

umask 077
tmp="$output.tmp.$$"
{
    echo "include $conf_dir/redis.conf"
    echo "include $conf_dir/tls.conf"
    echo "include $conf_dir/$group.conf"
    echo "# Any node may become a replica: it authenticates to the primary as the replica user (render-acl.sh)."
    echo "masteruser replica"
    echo "masterauth $password"
    echo "# As a replica, announce the name the certificate carries: Sentinel hands it to the app, which verifies it."
    echo "replica-announce-ip $name"
    if [ "$group" = cluster ]; then
        echo "# Clients are sent to this name (cluster.conf: cluster-preferred-endpoint-type hostname), which TLS verifies."
        echo "cluster-announce-hostname $name"
    fi
    if [ $# -ge 6 ]; then echo "replicaof $5 $6"; fi
} >"$tmp"
mv "$tmp" "$output"
