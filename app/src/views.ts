import { join } from 'node:path';
import { Eta } from 'eta';
import type { Response } from 'express';

export type Views = ReturnType<typeof createViews>;

// A moment as the page shows it before its script runs (and without one): readable, in UTC, which it says. The page's
// script (public/times.js) then shows it in the reader's own time zone, with "3 minutes ago", the exact time on hover.
const UTC = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' });
const time = (date: Date) => `${UTC.format(date)} UTC`;

/** Server-rendered pages; Eta escapes every `<%= %>` by default, so user input is never raw HTML. */
export function createViews({ instanceId }: { instanceId: string }) {
  const eta = new Eta({ views: join(import.meta.dirname, 'views'), cache: true, autoEscape: true });
  return {
    render(res: Response, status: number, template: string, data: Record<string, unknown> = {}) {
      res
        .status(status)
        .type('html')
        .send(eta.render(template, { instanceId, time, ...data }));
    },
  };
}
