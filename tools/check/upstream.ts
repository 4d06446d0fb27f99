import { readFileSync } from 'node:fs';
import { shippedFiles } from '../lib/paths.ts';
import { renderLocalUpstream } from '../lib/nginx.ts';
import { resultOf, type CheckResult } from './result.ts';

type Directive = { name: string; args: string[] };

/** The directives inside the `upstream { }` block of an nginx file, comments removed. */
function upstreamDirectives(text: string): Directive[] {
  const body = /upstream\s+\S+\s*\{([^}]*)\}/.exec(text.replace(/#.*$/gm, ''))?.[1];
  if (body === undefined) throw new Error('no upstream { } block');
  return body
    .split(';')
    .map((statement) => statement.trim().split(/\s+/))
    .filter(([name]) => name)
    .map(([name = '', ...args]) => ({ name, args }));
}

/**
 * The settings of an upstream that must not differ between deployments. `server` lines count by their
 * parameters (`max_fails=2 fail_timeout=5s`), not their addresses; `resolver` and the `resolve` flag exist only
 * where there is DNS to follow (compose), so they are left out.
 */
function upstreamSettings(text: string): Map<string, string> {
  const settings = new Map<string, string>();
  for (const { name, args } of upstreamDirectives(text)) {
    if (name === 'resolver') continue;
    const value = name === 'server' ? args.slice(1).filter((arg) => arg !== 'resolve') : args;
    const known = settings.get(name);
    const joined = value.join(' ');
    // Every server line of one file must carry the same parameters, or "the" setting is undefined.
    if (known !== undefined && known !== joined) throw new Error(`two different "${name}" lines: "${known}" and "${joined}"`);
    settings.set(name, joined);
  }
  return settings;
}

/** The named value of a setting: `max_fails` and `fail_timeout` from the server parameters, else the directive's. */
function settingValue(settings: Map<string, string>, name: string): string | undefined {
  if (name === 'keepalive') return settings.get('keepalive');
  const param = settings
    .get('server')
    ?.split(' ')
    .find((candidate) => candidate.startsWith(`${name}=`));
  return param?.slice(name.length + 1);
}

/**
 * compose/upstream.conf and the local upstream (as the stack renders it from its template) agree on the passive
 * health and keepalive settings, and on every other directive but the DNS ones.
 */
export function checkUpstreamsAgree(
  compose = readFileSync(shippedFiles.composeUpstream, 'utf8'),
  local = renderLocalUpstream(['127.0.0.1:3001', '127.0.0.1:3002']),
): CheckResult {
  let composeSettings: Map<string, string>;
  let localSettings: Map<string, string>;
  try {
    composeSettings = upstreamSettings(compose);
    localSettings = upstreamSettings(local);
  } catch (err) {
    return resultOf([(err as Error).message]);
  }
  const problems: string[] = [];
  for (const name of ['max_fails', 'fail_timeout', 'keepalive']) {
    const [inCompose, inLocal] = [settingValue(composeSettings, name), settingValue(localSettings, name)];
    if (inCompose === undefined) problems.push(`compose upstream: no ${name}`);
    else if (inCompose !== inLocal) problems.push(`${name}: compose has "${inCompose}", local has "${inLocal ?? 'nothing'}"`);
  }
  for (const name of new Set([...composeSettings.keys(), ...localSettings.keys()].filter((name) => name !== 'keepalive'))) {
    const [inCompose, inLocal] = [composeSettings.get(name), localSettings.get(name)];
    if (inCompose !== inLocal)
      problems.push(`${name}: compose has "${inCompose ?? 'nothing'}", local has "${inLocal ?? 'nothing'}"`);
  }
  return resultOf(problems);
}
