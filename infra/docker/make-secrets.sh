#!/bin/sh
# Creates the secrets docker-compose.yml mounts (and the local stack, in .run/secrets), once; existing files are kept
# (rotating them: npm run rotate-secrets, or the steps in docs/operations.md, "Rotating credentials").
#   usage: infra/docker/make-secrets.sh [DIR]     (default: ./secrets, git-ignored)
# Hex only, so the values are safe in URLs and ACL files without escaping.
#
# Modes: the directory is 700, so nobody else on the host can read the files;
# the files are 644 because compose bind-mounts file secrets with the host's
# owner and mode (uid/gid/mode are not supported for file secrets), and the
# app runs as uid 1000 ("node") in its container. Set SECRETS_FILE_MODE=600
# where the consumers run as the owner (the local stack does).
set -eu

dir=${1:-secrets}
mode=${SECRETS_FILE_MODE:-644}

umask 077
mkdir -p "$dir"
chmod 700 "$dir"

# redis_replica_password: replicas authenticate to the primary; redis_sentinel_password: Sentinels to the data nodes;
# redis_sentinel_app_password: the app to the Sentinels; redis_sentinel_peer_password: Sentinels to each other.
# redis_cache_password: the app to the cache Redis; postgres_password: the database owner (migrations);
# database_app_password: the app's least-privilege role catalog_app; redis_exporter_password: prometheus-redis-exporter
# to the session Redis's nodes (read-only statistics, infra/redis/render-acl.sh).
for name in session_secret redis_app_password redis_admin_password redis_replica_password redis_sentinel_password \
    redis_sentinel_app_password redis_sentinel_peer_password redis_cache_password postgres_password \
    database_app_password redis_exporter_password; do
    file="$dir/$name"
    if [ -s "$file" ]; then
        continue
    fi
    # 32 random bytes: 64 hex characters (the app wants >= 32 per session secret).
    od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$file.tmp"
    chmod "$mode" "$file.tmp"
    mv "$file.tmp" "$file"
    echo "created $file"
done

# TLS for every Redis connection: a private CA and the nodes' certificate.
# backup_signing_key: signs each backup's manifest (Ed25519, PEM); a restore checks the signature with
# backup_signing_key.pub, which is no secret (docs/operations.md, Backups).
if [ ! -s "$dir/backup_signing_key" ]; then
    openssl genpkey -algorithm ed25519 -out "$dir/backup_signing_key.tmp"
    chmod "$mode" "$dir/backup_signing_key.tmp"
    mv "$dir/backup_signing_key.tmp" "$dir/backup_signing_key"
    rm -f "$dir/backup_signing_key.pub"
    echo "created $dir/backup_signing_key"
fi
if [ ! -s "$dir/backup_signing_key.pub" ]; then
    openssl pkey -in "$dir/backup_signing_key" -pubout -out "$dir/backup_signing_key.pub"
    chmod 644 "$dir/backup_signing_key.pub"
fi

sh "$(dirname "$0")/../redis/make-tls.sh" "$dir"
