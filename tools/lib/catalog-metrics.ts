import { METRIC } from '../../app/src/metrics.ts';

export type CatalogCounters = { db: number; hit: number; stale: number; miss: number; error: number };

/** The catalogue's counters summed over every instance's /metrics (prom-client text format): bench and chaos. */
export async function catalogCounters(metricsUrls: string[]): Promise<CatalogCounters> {
  const sums: CatalogCounters = { db: 0, hit: 0, stale: 0, miss: 0, error: 0 };
  for (const metricsUrl of metricsUrls) {
    const text = await (await fetch(metricsUrl)).text();
    for (const line of text.split('\n')) {
      const value = Number(line.split(' ').at(-1));
      if (line.startsWith(`${METRIC.dbQueries} `)) sums.db += value;
      const result = new RegExp(`^${METRIC.cacheRequests}\\{result="(\\w+)"\\}`).exec(line)?.[1] as keyof CatalogCounters;
      if (result && result in sums) sums[result] += value;
    }
  }
  return sums;
}
