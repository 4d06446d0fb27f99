#!/bin/sh
# Puts new TLS files into service on the running session Redis (every data node and Sentinel) and the cache Redis,
# and checks what each now presents. The files themselves are made by make-tls.sh (--server, --ca) and written in
# place by the caller: this script never writes them.
#   usage: rotate-certificates.sh reload|check SECRETS_DIR [SENTINEL_HOST [SENTINEL_PORT]]   (default 127.0.0.1 26379)
#   reload: on every data node and the cache Redis, CONFIG SET tls-cert-file, tls-key-file and tls-ca-cert-file to the
#     paths it already has, which makes it read the three files again (they are volatile configs: set even when
#     unchanged; checked on 7.0.15). Connections already open keep their session; new ones get the new certificate
#     and are verified against the new CA file. A Sentinel cannot do this (no CONFIG command; SENTINEL CONFIG SET knows
#     no tls-*, 7.0.15): restart the Sentinels one at a time after a reload, each back in the group before the next.
#   check: every data node, cache node and Sentinel must present SECRETS_DIR/redis_server.crt (same SHA-256
#     fingerprint), verified by SECRETS_DIR/redis_ca.crt; with REFUSED_CA=FILE, a client trusting FILE alone (the
#     old CA) must fail to verify each of them. Needs the openssl command (not in the redis:*-alpine image).
#   env: REDIS_CA_FILE (SECRETS_DIR/redis_ca.crt: what redis-cli trusts), REDIS_ADMIN_USER (admin), SENTINEL_NAME
#        (sessions), REDIS_NODES ("host:port ...": a group without Sentinels), CACHE_NODES ("host:port ...": the cache
#        Redis; none by default), REFUSED_CA (check only). The admin password: SECRETS_DIR/redis_admin_password.
# The node discovery is rotate-passwords.sh's (each script runs alone, piped into a container's sh).
# POSIX sh: runs on Debian and in the redis:*-alpine image (reload).
set -eu

usage="usage: rotate-certificates.sh reload|check SECRETS_DIR [SENTINEL_HOST [SENTINEL_PORT]]"
step=${1:?$usage}
secrets=${2:?$usage}
sentinel_host=${3:-127.0.0.1}
sentinel_port=${4:-26379}
name=${SENTINEL_NAME:-sessions}
ca=${REDIS_CA_FILE:-$secrets/redis_ca.crt}
user=${REDIS_ADMIN_USER:-admin}
case $step in reload | check) ;; *) echo "$usage" >&2; exit 2 ;; esac

say() { echo "rotate-certificates: $*" >&2; }
REDISCLI_AUTH=$(tr -d ' \n' <"$secrets/redis_admin_password")
export REDISCLI_AUTH

cli() {
    host=${1%:*}
    port=${1##*:}
    shift
    # A node that does not answer must not hang the script: 2 s per command.
    timeout 2 redis-cli -h "$host" -p "$port" --tls --cacert "$ca" --user "$user" --no-auth-warning "$@" | tr -d '\r'
}

if [ -n "${REDIS_NODES:-}" ]; then
    nodes=$REDIS_NODES
    sentinels=""
else
    set -- $(cli "$sentinel_host:$sentinel_port" SENTINEL GET-MASTER-ADDR-BY-NAME "$name")
    [ $# -eq 2 ] || { say "the Sentinel at $sentinel_host:$sentinel_port names no primary \"$name\""; exit 1; }
    fields='$0 == "ip" { getline; ip = $0 } $0 == "port" { getline; print ip ":" $0 }'
    nodes="$1:$2 $(cli "$sentinel_host:$sentinel_port" SENTINEL REPLICAS "$name" | awk "$fields")"
    sentinels="$sentinel_host:$sentinel_port $(cli "$sentinel_host:$sentinel_port" SENTINEL SENTINELS "$name" | awk "$fields")"
fi
servers="$nodes ${CACHE_NODES:-}"

if [ "$step" = reload ]; then
    for server in $servers; do
        # CONFIG GET answers name, value: the value is the node's own path (/run/secrets/… in compose).
        cert=$(cli "$server" CONFIG GET tls-cert-file | sed -n 2p)
        key=$(cli "$server" CONFIG GET tls-key-file | sed -n 2p)
        cas=$(cli "$server" CONFIG GET tls-ca-cert-file | sed -n 2p)
        [ -n "$cert" ] && [ -n "$key" ] && [ -n "$cas" ] || { say "$server: no tls-cert-file, tls-key-file or tls-ca-cert-file"; exit 1; }
        reply=$(cli "$server" CONFIG SET tls-cert-file "$cert" tls-key-file "$key" tls-ca-cert-file "$cas")
        # A key that does not match its certificate, or an unreadable file, is refused here and the old files stay.
        [ "$reply" = OK ] || { say "$server: CONFIG SET tls-*: $reply"; exit 1; }
    done
    echo "TLS files reloaded on $(echo $servers | wc -w) servers${sentinels:+; the Sentinels load them at a restart:$(printf ' %s' $sentinels)}"
    exit 0
fi

want=$(openssl x509 -noout -fingerprint -sha256 -in "$secrets/redis_server.crt")
serial=$(openssl x509 -noout -serial -in "$secrets/redis_server.crt" | cut -d = -f 2)
# The certificate the server at $1 presents to a client trusting $2 only; fails if it does not verify.
presented() {
    shown=$(timeout 5 openssl s_client -connect "$1" -CAfile "$2" -verify_return_error </dev/null 2>/dev/null) || return 1
    echo "$shown" | openssl x509 -noout -fingerprint -sha256
}
count=0
for server in $servers $sentinels; do
    got=$(presented "$server" "$secrets/redis_ca.crt") || { say "$server: its certificate does not verify against $secrets/redis_ca.crt"; exit 1; }
    if [ "$got" != "$want" ]; then
        case " $sentinels " in *" $server "*) say "$server presents an older certificate: restart this Sentinel" ;; *) say "$server presents an older certificate: run reload" ;; esac
        exit 1
    fi
    if [ -n "${REFUSED_CA:-}" ] && presented "$server" "$REFUSED_CA" >/dev/null; then
        say "$server: a client trusting only $REFUSED_CA still accepts it"
        exit 1
    fi
    count=$((count + 1))
done
echo "$count servers present serial $serial${REFUSED_CA:+, refused by a client trusting only $REFUSED_CA}"
