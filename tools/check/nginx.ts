import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shippedFiles } from '../lib/paths.ts';
import { run } from '../lib/spawn.ts';
import { LOCAL_SERVER_NAMES, localServerFiles, nginxArgs, renderLocalUpstream, writeNginxConfDir } from '../stack/nginx.ts';
import { resultOf, type CheckResult } from './result.ts';
import { checkUpstreamsAgree } from './upstream.ts';

/**
 * compose's per-deployment files besides the upstream, as the container gets them: the files of compose/ as they
 * are, and its `.template` files rendered the way the nginx image does (envsubst), with the local stack's names.
 */
function composeServerFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of readdirSync(shippedFiles.composeNginxDir)) {
    if (name === 'upstream.conf') continue;
    const text = readFileSync(join(shippedFiles.composeNginxDir, name), 'utf8');
    if (name.endsWith('.conf')) files[name] = text;
    else if (name.endsWith('.conf.template'))
      files[name.replace(/\.template$/, '')] = text.replaceAll('${NGINX_SERVER_NAMES}', LOCAL_SERVER_NAMES);
  }
  return files;
}

/** `server ... resolve` and `resolver` inside `upstream` appeared in open-source nginx 1.27.3. */
const supportsUpstreamResolve = (version: string) => {
  const [major = 0, minor = 0, patch = 0] = version.split('.').map(Number);
  return major > 1 || (major === 1 && (minor > 27 || (minor === 27 && patch >= 3)));
};

async function nginxTest(nginx: string, deploymentFiles: Record<string, string>): Promise<CheckResult> {
  const dir = mkdtempSync(join(tmpdir(), 'check-nginx-'));
  try {
    const confFile = writeNginxConfDir({ confDir: join(dir, 'conf'), deploymentFiles });
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
    [`nginx -t: local stack config (nginx ${version})`]: await nginxTest(nginx, {
      'upstream.conf': renderLocalUpstream(['127.0.0.1:3001', '127.0.0.1:3002', '127.0.0.1:3003']),
      ...localServerFiles(8080),
    }),
    [`nginx -t: compose config${verbatim ? '' : ' (with the local upstream: no resolve before nginx 1.27.3)'}`]: await nginxTest(
      nginx,
      {
        'upstream.conf': verbatim ? readFileSync(shippedFiles.composeUpstream, 'utf8') : renderLocalUpstream(['127.0.0.1:3000']),
        ...composeServerFiles(),
      },
    ),
    'nginx: local and compose upstreams agree (max_fails, fail_timeout, keepalive; all but resolver/resolve)':
      checkUpstreamsAgree(),
  };
}
