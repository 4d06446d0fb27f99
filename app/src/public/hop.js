// The "Hop" burst on the dashboard: many requests through the load balancer, one chip per response.
// Loaded as a module from /static (the Content-Security-Policy allows no inline script).

const palette = new Map();

/** A stable colour per instance: the same instance id always gets the same class. */
function colourClass(instance) {
  if (!palette.has(instance)) {
    let hash = 0;
    for (const char of instance) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
    palette.set(instance, `c${hash % 6}`);
  }
  return palette.get(instance);
}

async function probe() {
  try {
    const res = await fetch('/api/session', {
      cache: 'no-store',
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
    });
    const instance = res.headers.get('X-Instance-Id') ?? 'unknown';
    const body = res.ok ? await res.json() : null;
    return { instance, authenticated: body?.authenticated === true, status: res.status };
  } catch {
    return { instance: 'network error', authenticated: false, status: 0 };
  }
}

async function hop(button) {
  const chips = document.getElementById('chips');
  const tally = document.getElementById('tally');
  const count = Number(button.dataset.burst) || 12;
  button.disabled = true;
  chips.replaceChildren();
  tally.replaceChildren();
  const results = await Promise.all(Array.from({ length: count }, probe));
  const perInstance = new Map();
  for (const result of results) {
    const chip = document.createElement('li');
    const state = result.status === 200 ? (result.authenticated ? 'authenticated' : 'anonymous') : 'failed';
    chip.className = `chip ${colourClass(result.instance)} ${state}`;
    chip.dataset.instance = result.instance;
    chip.dataset.state = state;
    chip.title = `${result.instance}: ${state}${result.status === 200 ? '' : ` (HTTP ${result.status})`}`;
    chip.textContent = `${result.instance} ${state === 'authenticated' ? '✓' : '✗'}`;
    chips.append(chip);
    perInstance.set(result.instance, (perInstance.get(result.instance) ?? 0) + 1);
  }
  for (const [instance, served] of [...perInstance].sort()) {
    const item = document.createElement('li');
    item.dataset.instance = instance;
    item.textContent = `${instance}: ${served}`;
    tally.append(item);
  }
  button.disabled = false;
}

const button = document.getElementById('hop');
button?.addEventListener('click', () => hop(button));
