#!/bin/sh
# Creates a private CA and one server certificate for every Redis node and Sentinel, once; existing files are kept.
# Never committed: infra/docker/make-secrets.sh calls this into the git-ignored secrets directory.
#   usage: make-tls.sh DIR
# The certificate names every address a client dials (Node's TLS checks the name, or the IP SAN for an address):
# the compose service names (the cluster profile's too: check:infra holds the list to docker-compose.yml), the
# Kubernetes memcached pods' names (memcached-N.memcached: check:infra holds them to the catalog-memcached overlay)
# and the loopback address of the local stack. The nodes present the same certificate as clients of each other
# (replication, Sentinel, the cluster bus), hence clientAuth too. ECDSA P-256: the cheapest handshakes.
set -eu

dir=${1:?usage: make-tls.sh DIR}
mode=${SECRETS_FILE_MODE:-644}
[ -s "$dir/redis_server.crt" ] && exit 0

umask 077
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj "/CN=redis-session-reference Redis CA" -keyout "$tmp/redis_ca.key" -out "$tmp/redis_ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=redis" -keyout "$tmp/redis_server.key" -out "$tmp/server.csr" 2>/dev/null
cat >"$tmp/server.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:redis-1,DNS:redis-2,DNS:redis-3,DNS:sentinel-1,DNS:sentinel-2,DNS:sentinel-3,DNS:redis,DNS:cache-redis,DNS:cluster-1,DNS:cluster-2,DNS:cluster-3,DNS:cluster-4,DNS:cluster-5,DNS:cluster-6,DNS:memcached-1,DNS:memcached-2,DNS:memcached-3,DNS:memcached-0.memcached,DNS:memcached-1.memcached,DNS:memcached-2.memcached,DNS:localhost,IP:127.0.0.1
EXT
openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/redis_ca.crt" -CAkey "$tmp/redis_ca.key" -CAcreateserial \
    -days 825 -extfile "$tmp/server.ext" -out "$tmp/redis_server.crt" 2>/dev/null
# The CA key signs nothing else: kept only so an operator can add a name later; 600 whatever the mode.
chmod 600 "$tmp/redis_ca.key"
chmod "$mode" "$tmp/redis_ca.crt" "$tmp/redis_server.crt" "$tmp/redis_server.key"
# The server certificate last: its presence means "done" above.
for name in redis_ca.key redis_ca.crt redis_server.key redis_server.crt; do mv "$tmp/$name" "$dir/$name"; done
echo "created $dir/redis_ca.crt and $dir/redis_server.{crt,key}"
