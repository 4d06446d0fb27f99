#!/bin/sh
# Writes a data node's own config file, once: Sentinel rewrites it at runtime (CONFIG REWRITE records which node
# this one replicates), so it must be a writable per-node copy that survives restarts, never the shipped file.
#   usage: render-node.sh SECRETS_DIR CONF_DIR OUTPUT [PRIMARY_HOST PRIMARY_PORT]
# CONF_DIR holds the shipped redis.conf and tls.conf. With PRIMARY_*, the node starts as its replica (first boot only:
# after that Sentinel owns the topology). POSIX sh: runs on Debian and in the redis:*-alpine image.
set -eu

secrets_dir=${1:?usage: render-node.sh SECRETS_DIR CONF_DIR OUTPUT [PRIMARY_HOST PRIMARY_PORT]}
conf_dir=${2:?usage: render-node.sh SECRETS_DIR CONF_DIR OUTPUT [PRIMARY_HOST PRIMARY_PORT]}
output=${3:?usage: render-node.sh SECRETS_DIR CONF_DIR OUTPUT [PRIMARY_HOST PRIMARY_PORT]}
[ -s "$output" ] && exit 0

password=$(sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' "$secrets_dir/redis_replica_password" | tr -d '\n')
[ -n "$password" ] || { echo "render-node.sh: missing secret $secrets_dir/redis_replica_password" >&2; exit 1; }

umask 077
tmp="$output.tmp.$$"
{
    echo "include $conf_dir/redis.conf"
    echo "include $conf_dir/tls.conf"
    echo "# Any node may become a replica: it authenticates to the primary as the replica user (render-acl.sh)."
    echo "masteruser replica"
    echo "masterauth $password"
    if [ $# -ge 5 ]; then echo "replicaof $4 $5"; fi
} >"$tmp"
mv "$tmp" "$output"
