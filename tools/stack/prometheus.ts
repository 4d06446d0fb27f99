import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';

/** The shipped config (compose); the local stack runs it with static targets instead of DNS discovery. */
export const PROMETHEUS_CONFIG = resolve(import.meta.dirname, '../../infra/prometheus/prometheus.yml');

type ScrapeConfig = { job_name: string; dns_sd_configs?: unknown; static_configs?: { targets: string[] }[] };
type PrometheusConfig = {
  global: Record<string, string>;
  rule_files: string[];
  scrape_configs: ScrapeConfig[];
};

/**
 * The shipped prometheus.yml as the local stack runs it, changed in exactly five ways:
 * 1. job `app`: `dns_sd_configs` (Docker DNS) replaced by `static_configs` listing `appTargets` (host:metricsPort);
 * 2. job `prometheus`: scrapes this Prometheus on its own address;
 * 3. `rule_files` made absolute (the rendered file lives in the run dir), and, if given, a shorter scrape and
 *    evaluation interval, so a check on one machine sees a change within seconds. The alert rules are unchanged;
 * 4. job `backups` (compose's scheduled backup) left out: the local stack runs none (npm run backup is by hand);
 * 5. job `redis`: compose's exporter services replaced by `redisTargets`, the stack's exporters (one per data node).
 */
export function renderLocalPrometheusConfig({
  appTargets,
  redisTargets,
  selfTarget,
  intervalS,
  shipped = PROMETHEUS_CONFIG,
}: {
  appTargets: string[];
  redisTargets: string[];
  selfTarget: string;
  intervalS?: number;
  shipped?: string;
}): string {
  const config = parse(readFileSync(shipped, 'utf8')) as PrometheusConfig;
  const job = (name: string) => {
    const found = config.scrape_configs.find((scrape) => scrape.job_name === name);
    if (!found) throw new Error(`${shipped}: no scrape job "${name}"`);
    return found;
  };
  const app = job('app');
  if (!app.dns_sd_configs) throw new Error(`${shipped}: job "app" has no dns_sd_configs to replace`);
  delete app.dns_sd_configs;
  app.static_configs = [{ targets: appTargets }];
  job('prometheus').static_configs = [{ targets: [selfTarget] }];
  job('redis').static_configs = [{ targets: redisTargets }];
  config.scrape_configs = config.scrape_configs.filter((scrape) => scrape.job_name !== 'backups');
  config.rule_files = config.rule_files.map((file) => (isAbsolute(file) ? file : join(dirname(shipped), file)));
  if (intervalS !== undefined) {
    config.global.scrape_interval = `${intervalS}s`;
    config.global.evaluation_interval = `${intervalS}s`;
    config.global.scrape_timeout = `${Math.min(intervalS, 5)}s`;
  }
  return stringify(config);
}

/** Loopback only, a throwaway TSDB in the run dir, a short retention: a local stack keeps no history worth having. */
export function prometheusArgs({ configFile, dataDir, port }: { configFile: string; dataDir: string; port: number }) {
  return [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${dataDir}`,
    '--storage.tsdb.retention.time=1d',
    `--web.listen-address=127.0.0.1:${port}`,
  ];
}
