import { withRedis } from './redis.ts';

/** The name the shipped sentinel.conf monitors (the app's REDIS_SENTINEL_NAME default). */
export const SENTINEL_NAME = 'sessions';

/** The primary's port, as a Sentinel (its admin URL) names it now. */
export async function primaryPortOf(sentinelUrl: string): Promise<number> {
  const reply = await withRedis(sentinelUrl, (client) =>
    client.sendCommand<string[] | null>(['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_NAME]),
  );
  if (!reply) throw new Error(`the Sentinel does not monitor "${SENTINEL_NAME}"`);
  return Number(reply[1]);
}

/** Every Sentinel knows the other Sentinels and every replica, and every replica is in sync with the primary. */
export async function sentinelGroupReady(sentinelUrls: string[], primaryUrl: string, replicas: number): Promise<boolean> {
  try {
    for (const url of sentinelUrls) {
      const primary = await withRedis(url, (client) =>
        client.sendCommand<Record<string, string>>(['SENTINEL', 'MASTER', SENTINEL_NAME]),
      );
      if (primary['num-slaves'] !== String(replicas) || primary['num-other-sentinels'] !== String(sentinelUrls.length - 1))
        return false;
    }
    const replication = await withRedis(primaryUrl, (client) => client.info('replication'));
    return (replication.match(/state=online/g) ?? []).length === replicas;
  } catch {
    return false;
  }
}

/** `master` or `slave`, from the node's own INFO. */
export const roleOf = (nodeUrl: string) =>
  withRedis(nodeUrl, async (client) => /role:(\w+)/.exec(await client.info('replication'))?.[1] ?? 'unknown');
