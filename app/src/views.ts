import { join } from 'node:path';
import { Eta } from 'eta';
import type { Response } from 'express';

export type Views = ReturnType<typeof createViews>;

/** Server-rendered pages; Eta escapes every `<%= %>` by default, so user input is never raw HTML. */
export function createViews({ instanceId }: { instanceId: string }) {
  const eta = new Eta({ views: join(import.meta.dirname, 'views'), cache: true, autoEscape: true });
  return {
    render(res: Response, status: number, template: string, data: Record<string, unknown> = {}) {
      res
        .status(status)
        .type('html')
        .send(eta.render(template, { instanceId, ...data }));
    },
  };
}
