#!/bin/sh
# What docker-library/nginx's /docker-entrypoint.sh and 20-envsubst-on-templates.sh do: for `nginx`, render every
# $NGINX_ENVSUBST_TEMPLATE_DIR/*.template into $NGINX_ENVSUBST_OUTPUT_DIR, replacing only variables that are set.
set -eu
if [ "$1" = 'nginx' ] || [ "$1" = 'nginx-debug' ]; then
    template_dir=${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}
    suffix=${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}
    output_dir=${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}
    filter=${NGINX_ENVSUBST_FILTER:-}
    defined_envs=$(printf '${%s} ' $(awk "END { for (name in ENVIRON) { print ( name ~ /${filter}/ ) ? name : \"\" } }" </dev/null))
    for template in "$template_dir"/*"$suffix"; do
        [ -f "$template" ] || continue
        output="$output_dir/$(basename "$template" "$suffix")"
        mkdir -p "$output_dir"
        envsubst "$defined_envs" <"$template" >"$output"
        echo "/docker-entrypoint.sh: rendered $template to $output"
    done
fi
exec "$@"
