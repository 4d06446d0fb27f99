// Every <time datetime> on the page, as its reader reads time: in their own time zone, with how long ago (or how
// soon) it is, and the exact moment on hover. The server renders the same moment in UTC, which this replaces.
// Loaded as a module from /static (the Content-Security-Policy allows no inline script).

const shown = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const exact = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'long' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const UNITS = [
  ['day', 86_400],
  ['hour', 3_600],
  ['minute', 60],
];

/** "3 minutes ago", "in 25 minutes", "now". */
function fromNow(date) {
  const seconds = Math.round((date.getTime() - Date.now()) / 1000);
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size) return relative.format(Math.trunc(seconds / size), unit);
  }
  return relative.format(0, 'second');
}

function render() {
  for (const element of document.querySelectorAll('time[datetime]')) {
    const date = new Date(element.getAttribute('datetime'));
    if (Number.isNaN(date.getTime())) continue;
    element.textContent = `${shown.format(date)} (${fromNow(date)})`;
    element.title = exact.format(date);
  }
}

render();
// "3 minutes ago" goes stale while the page is open; bounded, like everything the page repeats (an hour).
const timer = setInterval(render, 30_000);
setTimeout(() => clearInterval(timer), 3_600_000);
