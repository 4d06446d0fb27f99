import { redisUrl, withRedis } from '../lib/redis.ts';
import { SENTINEL_NAME } from '../lib/sentinel.ts';
import { BackupError } from './age.ts';
import { hostPort, readSecret, type Endpoints, type HostPort } from './endpoints.ts';

/**
 * The node that is primary now, as the first answering Sentinel names it (asked as `sentinel-app`, which may ask
 * nothing else); the lone node without Sentinels. Host and port: in compose every node listens on 6379.
 */
export async function primaryOf(redis: Endpoints['redis']): Promise<HostPort> {
  if (redis.sentinels.length === 0) return redis.nodes[0]!;
  const password = readSecret(redis.sentinelAppPasswordFile);
  for (const sentinel of redis.sentinels) {
    const reply = await withRedis(
      redisUrl('sentinel-app', password, sentinel.port, { host: sentinel.host, tls: Boolean(redis.caFile) }),
      (client) => client.sendCommand<string[] | null>(['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_NAME]),
    ).catch(() => null);
    if (reply) return { host: reply[0]!, port: Number(reply[1]) };
  }
  throw new BackupError(`no Sentinel answers (${redis.sentinels.map(hostPort).join(', ')}): is the stack running?`);
}
