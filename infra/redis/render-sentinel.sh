#!/bin/sh
# Writes a Sentinel's own config file from the shipped sentinel.conf, once (Sentinel rewrites it at runtime).
#   usage: render-sentinel.sh SECRETS_DIR TEMPLATE OUTPUT PRIMARY_HOST PRIMARY_PORT
# Users: default off (every client authenticates); sentinel-app for the app (discovery and the failover
# channels only: +switch-master, +selected-slave, +promoted-slave); sentinel-peer for the other Sentinels (hello messages, down votes); admin for operators and healthchecks.
# POSIX sh: runs on Debian and in the redis:*-alpine image.
set -eu

usage="usage: render-sentinel.sh SECRETS_DIR TEMPLATE OUTPUT PRIMARY_HOST PRIMARY_PORT"
secrets_dir=${1:?$usage}
template=${2:?$usage}
output=${3:?$usage}
primary_host=${4:?$usage}
primary_port=${5:?$usage}
[ -s "$output" ] && exit 0

secret() {
    value=$(sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' "$secrets_dir/$1" 2>/dev/null | tr -d '\n')
    [ -n "$value" ] || { echo "render-sentinel.sh: missing secret $secrets_dir/$1" >&2; exit 1; }
    printf '%s' "$value"
}
hash() { secret "$1" | sha256sum | cut -d ' ' -f 1; }

umask 077
tmp="$output.tmp.$$"
sed -e "s/@PRIMARY_HOST@/$primary_host/" -e "s/@PRIMARY_PORT@/$primary_port/" "$template" >"$tmp"
cat >>"$tmp" <<CONF
sentinel auth-pass sessions $(secret redis_sentinel_password)
sentinel sentinel-pass $(secret redis_sentinel_peer_password)
user default off resetpass resetkeys resetchannels -@all
user sentinel-app on #$(hash redis_sentinel_app_password) resetkeys resetchannels &+switch-master &+selected-slave &+promoted-slave -@all +ping +sentinel|get-master-addr-by-name +subscribe
user sentinel-peer on #$(hash redis_sentinel_peer_password) resetkeys resetchannels &__sentinel__:hello -@all +ping +publish +sentinel|is-master-down-by-addr +client|setname
user admin on #$(hash redis_admin_password) ~* &* +@all
CONF
mv "$tmp" "$output"
