import { execFileSync } from 'node:child_process';
import { shippedFiles } from './paths.ts';

/** Renders the ACL with the same script compose uses; REDIS_SERVER tells it which Redis version it targets. */
export function renderAcl(secretsDir: string, output: string, redisServer: string): void {
  execFileSync('sh', [shippedFiles.renderAcl, secretsDir, output], {
    env: { ...process.env, REDIS_SERVER: redisServer },
    stdio: 'pipe',
  });
}

/** The shipped redis.conf plus the local overrides, as command-line arguments (applied after the file). */
export function redisArgs({ port, dir, aclfile }: { port: number; dir: string; aclfile: string }): string[] {
  return [
    shippedFiles.redisConf,
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--aclfile',
    aclfile,
    '--daemonize',
    'no',
  ];
}
