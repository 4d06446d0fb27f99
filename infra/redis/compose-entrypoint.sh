#!/bin/sh
# Entrypoint of the compose Redis services. As root: render the ACL from the compose secrets into the tmpfs
# /run/redis, and this process's own config into its volume, once (Sentinel rewrites it, so it must outlive the
# container); then run the image's own entrypoint, which drops to the redis user and starts redis-server.
#   compose-entrypoint.sh node NAME [PRIMARY]   a data node reached as NAME; a replica of PRIMARY on first boot
#   compose-entrypoint.sh sentinel PRIMARY      a Sentinel watching PRIMARY (first boot; then whichever is primary)
#   compose-entrypoint.sh cache                 the cache Redis (cache.conf: evicting, nothing persisted)
set -eu
conf=/usr/local/etc/redis
case "${1:?usage: compose-entrypoint.sh node NAME [PRIMARY] | sentinel PRIMARY | cache}" in
node)
    sh "$conf/render-acl.sh" /run/secrets /run/redis/users.acl
    chown redis:redis /run/redis/users.acl
    sh "$conf/render-node.sh" /run/secrets "$conf" /data/node.conf "$2" ${3:+"$3" 6379}
    exec docker-entrypoint.sh redis-server /data/node.conf --bind 0.0.0.0 --dir /data
    ;;
cache)
    sh "$conf/render-acl.sh" /run/secrets /run/redis/users.acl cache
    chown redis:redis /run/redis/users.acl
    exec docker-entrypoint.sh redis-server "$conf/cache.conf" --include "$conf/tls.conf" --bind 0.0.0.0 --dir /data
    ;;
sentinel)
    sh "$conf/render-sentinel.sh" /run/secrets "$conf/sentinel.conf" /data/sentinel.conf "$2" 6379
    exec docker-entrypoint.sh redis-server /data/sentinel.conf --sentinel --bind 0.0.0.0 --dir /data
    ;;
esac
echo "compose-entrypoint.sh: unknown role $1" >&2
exit 2
