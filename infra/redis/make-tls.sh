#!/bin/sh
# Creates a private CA and one server certificate for every Redis node and Sentinel, once; existing files are kept.
# Never committed: infra/docker/make-secrets.sh calls this into the git-ignored secrets directory.
#   usage: make-tls.sh DIR              redis_ca.{crt,key} and redis_server.{crt,key}, once
#          make-tls.sh --server DIR     a new server key and certificate (a renewal): signed by redis_ca.new.{crt,key}
#                                       while a new CA is being rolled out, by redis_ca.{crt,key} otherwise
#          make-tls.sh --ca DIR         a new CA as redis_ca.new.{crt,key} (kept if there: a rotation under way)
# Rotations (rotate-certificates.sh, docs/operations.md "Rotating certificates") write redis_server.* and
# redis_ca.crt in place, never by rename: compose bind-mounts each secret file, and a bind mount keeps the inode it
# was given, so a renamed file would never reach the containers. The files keep their mode.
# The certificate names every address a client dials (Node's TLS checks the name, or the IP SAN for an address):
# the compose service names (the cluster profile's too: check:infra holds the list to docker-compose.yml), the
# Kubernetes memcached pods' names (memcached-N.memcached: check:infra holds them to the catalog-memcached overlay)
# and the loopback address of the local stack. The nodes present the same certificate as clients of each other
# (replication, Sentinel, the cluster bus), hence clientAuth too. ECDSA P-256: the cheapest handshakes.
set -eu

usage="usage: make-tls.sh [--server|--ca] DIR"
step=create
case ${1:-} in --server | --ca) step=${1#--}; shift ;; esac
dir=${1:?$usage}
mode=${SECRETS_FILE_MODE:-644}
[ "$step" = create ] && [ -s "$dir/redis_server.crt" ] && exit 0
[ "$step" = ca ] && [ -s "$dir/redis_ca.new.crt" ] && exit 0

umask 077
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A CA valid ten years, $1 its files' base name in $tmp; a name of its own (a random suffix): old and new CA are
# told apart by name while a bundle holds both.
new_ca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
        -subj "/CN=redis-session-reference Redis CA $(openssl rand -hex 4)" -keyout "$tmp/$1.key" -out "$tmp/$1.crt" 2>/dev/null
}
# A server key and certificate in $tmp/redis_server.*, signed by the CA $1.crt / $1.key.
new_server() {
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=redis" -keyout "$tmp/redis_server.key" -out "$tmp/server.csr" 2>/dev/null
    cat >"$tmp/server.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:redis-1,DNS:redis-2,DNS:redis-3,DNS:sentinel-1,DNS:sentinel-2,DNS:sentinel-3,DNS:redis,DNS:cache-redis,DNS:cluster-1,DNS:cluster-2,DNS:cluster-3,DNS:cluster-4,DNS:cluster-5,DNS:cluster-6,DNS:memcached-1,DNS:memcached-2,DNS:memcached-3,DNS:memcached-0.memcached,DNS:memcached-1.memcached,DNS:memcached-2.memcached,DNS:localhost,IP:127.0.0.1
EXT
    # A random serial (-set_serial from 16 random bytes): no .srl file to keep beside the CA.
    openssl x509 -req -in "$tmp/server.csr" -CA "$1.crt" -CAkey "$1.key" -set_serial "0x$(openssl rand -hex 16)" \
        -days 825 -extfile "$tmp/server.ext" -out "$tmp/redis_server.crt" 2>/dev/null
}

case $step in
create)
    new_ca redis_ca
    new_server "$tmp/redis_ca"
    # The CA key signs nothing else: kept only so an operator can add a name later; 600 whatever the mode.
    chmod 600 "$tmp/redis_ca.key"
    chmod "$mode" "$tmp/redis_ca.crt" "$tmp/redis_server.crt" "$tmp/redis_server.key"
    # The server certificate last: its presence means "done" above.
    for name in redis_ca.key redis_ca.crt redis_server.key redis_server.crt; do mv "$tmp/$name" "$dir/$name"; done
    echo "created $dir/redis_ca.crt and $dir/redis_server.{crt,key}"
    ;;
ca)
    new_ca redis_ca.new
    chmod 600 "$tmp/redis_ca.new.key"
    chmod "$mode" "$tmp/redis_ca.new.crt"
    # The certificate last: its presence means "done" above.
    for name in redis_ca.new.key redis_ca.new.crt; do mv "$tmp/$name" "$dir/$name"; done
    echo "created $dir/redis_ca.new.{crt,key}"
    ;;
server)
    ca=$dir/redis_ca
    [ -s "$dir/redis_ca.new.crt" ] && ca=$dir/redis_ca.new
    [ -s "$ca.key" ] || { echo "make-tls.sh: no CA key $ca.key to sign with" >&2; exit 1; }
    new_server "$ca"
    # In place (see above); the key first: a node reloads both only when told to (CONFIG SET).
    cat "$tmp/redis_server.key" >"$dir/redis_server.key"
    cat "$tmp/redis_server.crt" >"$dir/redis_server.crt"
    echo "renewed $dir/redis_server.{crt,key}: serial $(openssl x509 -noout -serial -in "$dir/redis_server.crt" | cut -d = -f 2), signed by $ca.crt"
    ;;
esac
