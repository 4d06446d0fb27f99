import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shippedFiles } from '../lib/paths.ts';
import { run } from '../lib/spawn.ts';
import { localNginxLayout, type NginxLayout, nginxArgs, renderPublicPorts, writeNginxConfDir } from '../lib/nginx.ts';
import { resultOf, type CheckResult } from './result.ts';
import { checkUpstreamsAgree } from './upstream.ts';

/** `server ... resolve` and `resolver` inside `upstream` appeared in open-source nginx 1.27.3. */
const supportsUpstreamResolve = (version: string) => {
  const [major = 0, minor = 0, patch = 0] = version.split('.').map(Number);
  return major > 1 || (major === 1 && (minor > 27 || (minor === 27 && patch >= 3)));
};

async function nginxTest(nginx: string, layout: Omit<NginxLayout, 'confDir'>): Promise<CheckResult> {
  const dir = mkdtempSync(join(tmpdir(), 'check-nginx-'));
  try {
    const confFile = writeNginxConfDir({ confDir: join(dir, 'conf'), ...layout });
    const { code, output } = await run(nginx, nginxArgs({ prefix: join(dir, 'prefix'), confFile, test: true }));
    return resultOf(code === 0 ? [] : [output]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `nginx -t` on both shipped variants, each in a throwaway prefix, and the two upstreams compared. The local
 * variant is rendered exactly as the stack renders it. The compose variant is tested verbatim when the installed
 * nginx has upstream `resolve` (>= 1.27.3); on older nginx (Debian 12: 1.22) it is tested with the local upstream,
 * so every other shipped line, including compose's listen.conf, is still parsed, and the compose upstream's own
 * settings are held to the local one's by the comparison.
 */
export async function checkNginx(nginx: string) {
  const { output } = await run(nginx, ['-v']); // nginx -v prints to stderr
  const version = /nginx\/(\d+\.\d+\.\d+)/.exec(output)?.[1] ?? '0.0.0';
  const verbatim = supportsUpstreamResolve(version);
  return {
    [`nginx -t: local stack config (nginx ${version})`]: await nginxTest(nginx, localNginxLayout([3001, 3002, 3003], 8080)),
    [`nginx -t: compose config${verbatim ? '' : ' (with the local upstream: no resolve before nginx 1.27.3)'}`]: await nginxTest(
      nginx,
      {
        // The compose default (docker-compose.yml: NGINX_SERVER_NAMES) is the local one.
        ...localNginxLayout([3000], 8080),
        ...(verbatim ? { upstream: readFileSync(shippedFiles.composeUpstream, 'utf8') } : {}),
        // docker-compose.yml's default NGINX_PUBLIC_PORTS.
        publicPorts: renderPublicPorts([8080, 8081, 8082]),
        listen: {
          listen: readFileSync(shippedFiles.composeListen, 'utf8'),
          listenDefault: readFileSync(shippedFiles.composeListenDefault, 'utf8'),
        },
      },
    ),
    'nginx: local and compose upstreams agree (max_fails, fail_timeout, keepalive; all but resolver/resolve)':
      checkUpstreamsAgree(),
  };
}
