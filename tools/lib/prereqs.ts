import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

// nginx lives in /usr/sbin, which is not on a normal user's PATH on Debian.
const extraDirs = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

export function findExecutable(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of [...path.split(delimiter).filter(Boolean), ...extraDirs]) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

/** Absolute paths of redis-server and nginx, or an error that says how to install them. */
export function findTools() {
  const redisServer = findExecutable('redis-server');
  const nginx = findExecutable('nginx');
  if (!redisServer || !nginx) {
    const missing = [!redisServer && 'redis-server', !nginx && 'nginx'].filter(Boolean).join(' and ');
    throw new Error(`${missing} not found. Install them with:\n  sudo apt-get install -y redis-server nginx`);
  }
  return { redisServer, nginx };
}
