#!/bin/sh
# Entrypoint of the compose redis service. As root: render the ACL from the
# compose secrets into the tmpfs /run/redis and hand it to the redis user; then
# run the image's own entrypoint, which drops to the redis user and starts
# redis-server with the arguments from docker-compose.yml.
set -eu
sh /usr/local/etc/redis/render-acl.sh /run/secrets /run/redis/users.acl
chown redis:redis /run/redis/users.acl
exec docker-entrypoint.sh "$@"
