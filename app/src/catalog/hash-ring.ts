import { createHash } from 'node:crypto';

/** Points per node on the ring: enough that three nodes share keys within a few percent of a third each. */
const POINTS_PER_NODE = 160;

const md5 = (text: string) => createHash('md5').update(text).digest();

/**
 * Consistent hashing as ketama does it (libmemcached, mcrouter, most memcached clients): each node owns 160 points on
 * a 32-bit ring, from MD5 of `<node>-<i>`; a key belongs to the first point at or after MD5 of the key. Removing a
 * node moves only the keys it owned; adding one takes about 1/N of every other node's keys.
 */
export function createHashRing<N>(nodes: readonly N[], name: (node: N) => string) {
  const points: { at: number; node: N }[] = [];
  for (const node of nodes) {
    for (let i = 0; i < POINTS_PER_NODE / 4; i++) {
      const digest = md5(`${name(node)}-${i}`);
      for (let j = 0; j < 4; j++) points.push({ at: digest.readUInt32LE(j * 4), node });
    }
  }
  points.sort((a, b) => a.at - b.at);
  return {
    nodeFor(key: string): N {
      if (points.length === 0) throw new Error('no cache nodes');
      const at = md5(key).readUInt32LE(0);
      let low = 0;
      let high = points.length;
      while (low < high) {
        const middle = (low + high) >>> 1;
        if (points[middle]!.at < at) low = middle + 1;
        else high = middle;
      }
      return points[low === points.length ? 0 : low]!.node;
    },
  };
}
