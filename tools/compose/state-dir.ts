import { chmodSync, mkdirSync } from 'node:fs';

/**
 * compose:up's own folder (.run/compose), readable by nobody else: it holds dockerd's log. Only this folder is made
 * private: `recursive` with a mode would give a new `.run` that mode too, and the local stack's PostgreSQL, which runs
 * as its own user, must reach its folder below `.run`.
 */
export function ensureStateDir(dir: string) {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o700);
}
