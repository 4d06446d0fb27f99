#!/bin/sh
# Renders the Redis ACL file from password files, so no password is committed
# and none is stored in clear text (Redis accepts SHA-256 hashes: "#<hex>").
#   usage: render-acl.sh SECRETS_DIR OUTPUT_FILE
# SECRETS_DIR holds redis_app_password and redis_admin_password
# (infra/docker/make-secrets.sh). POSIX sh: runs on Debian (dash) and in the
# redis:*-alpine image (busybox).
set -eu

secrets_dir=${1:?usage: render-acl.sh SECRETS_DIR OUTPUT_FILE}
output=${2:?usage: render-acl.sh SECRETS_DIR OUTPUT_FILE}

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

# CLIENT SETINFO exists from Redis 7.2 (compose runs 7.4, Debian 12 ships 7.0);
# naming an unknown subcommand aborts startup, and node-redis ignores a refused
# SETINFO, so it is granted only where it exists.
setinfo=""
version=$("${REDIS_SERVER:-redis-server}" --version | sed -n 's/.* v=\([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
set -- $version
if [ "${1:-0}" -gt 7 ] || { [ "${1:-0}" -eq 7 ] && [ "${2:-0}" -ge 2 ]; }; then
    setinfo=" +client|setinfo"
fi

app_hash=$(password_hash redis_app_password)
admin_hash=$(password_hash redis_admin_password)

umask 077
tmp="$output.tmp.$$"
cat >"$tmp" <<ACL
user default off resetpass resetkeys resetchannels -@all
user app on #$app_hash resetkeys ~sess:* ~login-fail:* resetchannels -@all +ping +getex +get +set +del +incr +decr +expire +ttl +multi +exec +hello +auth +select$setinfo +client|setname
user admin on #$admin_hash ~* &* +@all
ACL
mv "$tmp" "$output"
