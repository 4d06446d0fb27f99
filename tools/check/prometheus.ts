import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { METRIC } from '../../app/src/metrics.ts';
import { BACKUP_METRICS } from '../backup/metrics.ts';
import { QUERIES } from '../lib/prometheus.ts';
import { run } from '../lib/spawn.ts';
import { PROMETHEUS_CONFIG, renderLocalPrometheusConfig } from '../stack/prometheus.ts';
import { REDIS_EXPORTER_METRICS } from '../stack/redis-exporter-process.ts';
import { dashboardProblems } from './grafana-dashboard.ts';
import { resultOf, type CheckResult } from './result.ts';

const dir = dirname(PROMETHEUS_CONFIG);
const RULES = join(dir, 'alerts.yml');
const RULE_TESTS = join(dir, 'alerts.test.yml');

type Rules = { groups: { rules: { alert?: string; expr: string }[] }[] };
type RuleTests = { tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[] };

async function promtool(promtoolPath: string, args: string[]): Promise<CheckResult> {
  const { code, output } = await run(promtoolPath, args, { cwd: dir, stdout: true });
  return resultOf(code === 0 ? [] : [output]);
}

/** The local stack's rendering of prometheus.yml, checked as the stack would run it. */
async function checkLocalConfig(promtoolPath: string): Promise<CheckResult> {
  const tmp = mkdtempSync(join(tmpdir(), 'check-prometheus-'));
  try {
    const file = join(tmp, 'prometheus.yml');
    writeFileSync(
      file,
      renderLocalPrometheusConfig({
        appTargets: ['127.0.0.1:9465', '127.0.0.1:9466'],
        redisTargets: ['127.0.0.1:6420', '127.0.0.1:6421', '127.0.0.1:6422'],
        selfTarget: '127.0.0.1:9090',
        intervalS: 2,
      }),
    );
    const { code, output } = await run(promtoolPath, ['check', 'config', file], { stdout: true });
    return resultOf(code === 0 ? [] : [output]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The dashboard's and the e2e check's PromQL parses: promtool checks it as recording rules. */
async function checkQueries(promtoolPath: string): Promise<CheckResult> {
  const tmp = mkdtempSync(join(tmpdir(), 'check-prometheus-'));
  try {
    const file = join(tmp, 'queries.yml');
    const rules = Object.entries(QUERIES).map(([name, expr]) => ({ record: `query:${name}`, expr }));
    writeFileSync(file, stringify({ groups: [{ name: 'queries', rules }] }));
    const { code, output } = await run(promtoolPath, ['check', 'rules', file], { stdout: true });
    return resultOf(code === 0 ? [] : [output]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Each alert has a unit test in which it fires and one in which it stays silent. */
function checkEveryAlertTested(): CheckResult {
  const rules = parse(readFileSync(RULES, 'utf8')) as Rules;
  const tests = parse(readFileSync(RULE_TESTS, 'utf8')) as RuleTests;
  const cases = tests.tests.flatMap((test) => test.alert_rule_test ?? []);
  const problems: string[] = [];
  for (const name of rules.groups.flatMap((group) => group.rules.flatMap((rule) => rule.alert ?? []))) {
    const mine = cases.filter((test) => test.alertname === name);
    if (!mine.some((test) => (test.exp_alerts ?? []).length > 0)) problems.push(`${name}: no test in which it fires`);
    if (!mine.some((test) => (test.exp_alerts ?? []).length === 0)) problems.push(`${name}: no test in which it stays silent`);
  }
  return resultOf(problems);
}

/**
 * The rules only name metrics the app registers (METRIC), the scheduled backup's (BACKUP_METRICS), the Redis
 * exporter's that the live test finds scraped (REDIS_EXPORTER_METRICS) or Prometheus's own `up`: a rename cannot go
 * unnoticed.
 */
function checkRuleMetricNames(): CheckResult {
  const rules = parse(readFileSync(RULES, 'utf8')) as Rules;
  const known = new Set<string>([...Object.values(METRIC), ...BACKUP_METRICS, ...REDIS_EXPORTER_METRICS, 'up']);
  const problems: string[] = [];
  for (const rule of rules.groups.flatMap((group) => group.rules)) {
    for (const [, name] of rule.expr.matchAll(/([a-z_:][a-z0-9_:]*)\{/g)) {
      const base = name!.replace(/_(count|bucket|sum)$/, '');
      if (!known.has(base))
        problems.push(
          `${rule.alert}: ${name} is not a metric of app/src/metrics.ts, tools/backup/metrics.ts or REDIS_EXPORTER_METRICS`,
        );
    }
  }
  return resultOf(problems);
}

/**
 * promtool on the shipped files: the compose config verbatim, the local stack's rendering of it, the rules, and
 * their unit tests; plus what promtool cannot see: every alert tested both ways, the rules' metric names, the
 * dashboard up to date. `promtool` comes with Debian's prometheus package.
 */
export async function checkPrometheus(promtoolPath: string): Promise<Record<string, CheckResult>> {
  return {
    'prometheus: promtool check config (compose, DNS discovery)': await promtool(promtoolPath, [
      'check',
      'config',
      PROMETHEUS_CONFIG,
    ]),
    'prometheus: promtool check config (local stack rendering, static targets)': await checkLocalConfig(promtoolPath),
    'prometheus: promtool check rules': await promtool(promtoolPath, ['check', 'rules', RULES]),
    'prometheus: promtool test rules (every alert firing and silent)': await promtool(promtoolPath, [
      'test',
      'rules',
      RULE_TESTS,
    ]),
    'prometheus: every alert has a firing and a silent unit test': checkEveryAlertTested(),
    'prometheus: the dashboard and e2e queries parse (promtool check rules)': await checkQueries(promtoolPath),
    'prometheus: alert rules use only the metric names the app, the backup job and the Redis exporter register':
      checkRuleMetricNames(),
    'prometheus: grafana-dashboard.json is what tools/check/grafana-dashboard.ts renders': resultOf(dashboardProblems()),
  };
}
