import { z } from 'zod';

/** The process environment, or a test's stand-in for it. */
export type Env = Record<string, string | undefined>;

// Unset is production: a deployment that forgets NODE_ENV gets no public secret and no demo passwords.
export const nodeEnv = z.enum(['production', 'development', 'test']).default('production');

/**
 * The one answer to "is this production?", for the app's settings and the catalogue's alike: anything not explicitly
 * development or test, an unset or invalid NODE_ENV included (the schemas report an invalid one, and every other
 * problem is judged as in production, so all show at once).
 */
export const isProduction = (env: Env): boolean => (nodeEnv.safeParse(env.NODE_ENV).data ?? 'production') === 'production';

/**
 * `NAME_FILE` (Docker and Kubernetes secrets) fills `NAME`, trimmed, for each of `names`; setting both is a problem,
 * as is a file that cannot be read. Empty strings mean "unset", as in most shells' `VAR=` lines.
 */
export function resolveFileVariables(env: Env, names: string[], readFile: (path: string) => string, problems: string[]): Env {
  const resolved: Env = { ...env };
  for (const name of names) {
    const path = env[`${name}_FILE`];
    if (!path) continue;
    if (env[name]) problems.push(`${name}: set either ${name} or ${name}_FILE, not both`);
    try {
      resolved[name] = readFile(path).trim();
    } catch {
      problems.push(`${name}_FILE: cannot read ${path}`);
    }
  }
  for (const [key, value] of Object.entries(resolved)) if (value === '') delete resolved[key];
  return resolved;
}

/**
 * Each variable of a schema, with the value it takes when unset where the schema gives one (for the check that
 * docs/configuration.md states the defaults the code applies).
 */
export function variablesOf(schema: z.ZodObject): Record<string, unknown> {
  return Object.fromEntries(Object.entries(schema.shape).map(([name, field]) => [name, field.safeParse(undefined).data]));
}
