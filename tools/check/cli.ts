// npm run check:infra: every shipped infrastructure file is exercised, not just linted.
//   nginx -t on the local and compose nginx configs; redis-server started with redis.conf and the rendered
//   ACL (what the app, admin and default users may do); dclint and the promised shape of docker-compose.yml;
//   the Dockerfile's essentials. Needs redis-server and nginx (sudo apt-get install -y redis-server nginx).
// Exits 1 listing every failure; the whole run is bounded (60 s).
import { checkComposeEntrypoints, checkComposeShape, checkDclint, checkDockerfile } from './compose.ts';
import { checkNginx } from './nginx.ts';
import { checkAclMatchesApp } from './acl.ts';
import { checkPrometheus } from './prometheus.ts';
import { checkRedis } from './redis.ts';
import { checkK8s } from './k8s.ts';
import { findExecutable } from '../lib/prereqs.ts';
import { findTools } from '../lib/prereqs.ts';
import type { CheckResult } from './result.ts';

const TIMEOUT_MS = 60_000;
setTimeout(() => {
  console.error(`check:infra: timed out after ${TIMEOUT_MS / 1000} s`);
  process.exit(1);
}, TIMEOUT_MS).unref();

let tools: ReturnType<typeof findTools>;
try {
  tools = findTools();
} catch (err) {
  console.error(`check:infra: ${(err as Error).message}`);
  process.exit(1);
}

const results: Record<string, CheckResult> = {
  ...(await checkNginx(tools.nginx)),
  ...(await checkRedis(tools.redisServer)),
  'redis: the app ACL grants exactly the commands the app sends (app/test/integration/acl.test.ts)': await checkAclMatchesApp(),
  ...(await checkPrometheusWith(findExecutable('promtool'))),
  'compose: dclint (default rules, no warnings)': await checkDclint(),
  'compose: 3 app replicas, only nginx published on 8080, healthchecks + service_healthy; the cluster profile':
    checkComposeShape(),
  "compose: each Redis service's entrypoint renders with its own secrets and mounts; every Redis name in the certificate":
    checkComposeEntrypoints(),
  ...(await checkK8s()),
  'Dockerfile: node 24 slim, npm ci --omit=dev, USER node, CMD node app/src/server.ts': checkDockerfile(),
};

/** promtool comes with Debian's prometheus package; without it the checks fail saying how to get it. */
async function checkPrometheusWith(promtool: string | undefined): Promise<Record<string, CheckResult>> {
  if (promtool) return checkPrometheus(promtool);
  return { 'prometheus: promtool': { ok: false, problems: ['promtool not found: sudo apt-get install -y prometheus'] } };
}

let failures = 0;
for (const [name, result] of Object.entries(results)) {
  if (result.ok && result.skipped) {
    console.log(`SKIP  ${name}\n        ${result.skipped}`);
  } else if (result.ok) {
    console.log(`ok    ${name}`);
  } else {
    failures += 1;
    console.log(`FAIL  ${name}`);
    for (const problem of result.problems) console.log(problem.replace(/^/gm, '        '));
  }
}
console.log(failures === 0 ? 'check:infra: all passed' : `check:infra: ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
