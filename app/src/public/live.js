// The dashboard's live panel: which Redis node is the primary now and the cache's hit ratio, from /api/status, which
// whichever instance nginx picks answers (a node's label, never its address). Polled every 2 s while the page is
// visible (the first a second after it loads), for at most 15 minutes. Loaded as a module from /static.

const primary = document.querySelector('[data-testid="redis-primary"]');
const cache = document.querySelector('[data-testid="cache-ratio"]');
const percent = new Intl.NumberFormat(undefined, { style: 'percent' });
const count = new Intl.NumberFormat();

async function refresh() {
  try {
    const res = await fetch('/api/status', {
      cache: 'no-store',
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const { instance, redis, cache: reads } = await res.json();
    const changes = ['unchanged', 'changed once'][redis.primaryChanges] ?? `changed ${redis.primaryChanges} times`;
    primary.textContent = redis.primary
      ? `${redis.primary} (${redis.topology}; ${changes} since ${instance} started)`
      : redis.topology === 'cluster'
        ? 'a cluster: each shard has its own primary'
        : `unknown right now (${instance} is looking for it)`;
    primary.dataset.primary = redis.primary ?? '';
    cache.textContent = !reads
      ? 'off (no catalogue)'
      : reads.reads === 0
        ? `no product read yet on ${instance}`
        : `${percent.format(reads.hitRatio)} of ${count.format(reads.reads)} product reads on ${instance} came from the cache`;
  } catch (err) {
    primary.textContent = `not answered (${err.message}); retrying`;
  }
}

// The first refresh comes a second after the page, not with it: a page only passed through (a reload, a hop) adds no
// request of its own, so nginx's round robin hands successive pages to successive instances as before.
if (primary && cache) {
  const first = setTimeout(refresh, 1_000);
  const timer = setInterval(() => {
    if (document.visibilityState === 'visible') void refresh();
  }, 2_000);
  setTimeout(() => {
    clearTimeout(first);
    clearInterval(timer);
  }, 15 * 60_000);
}
