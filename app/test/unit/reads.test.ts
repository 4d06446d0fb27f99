import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express from 'express';
import supertest from 'supertest';
import { HttpError } from '../../src/errors.ts';
import { asRead, isRead } from '../../src/reads.ts';

describe('reads', () => {
  it('isRead › the safe methods only, whatever is routed', () => {
    assert.deepEqual(
      ['GET', 'HEAD', 'OPTIONS', 'TRACE', 'POST', 'PUT', 'DELETE', 'PATCH', 'PROPFIND'].filter((method) => isRead({ method })),
      ['GET', 'HEAD', 'OPTIONS', 'TRACE'],
    );
  });

  it('asRead › a handler declared a read cannot change or save the session: it does not compile (npm run lint)', () => {
    // Compiled, never called: tsc refuses an @ts-expect-error with no error under it, so each line must stay an error.
    const handlers = [
      asRead((req) => {
        // @ts-expect-error a read's session is read-only
        req.session.theme = 'dark';
      }),
      asRead((req) => {
        // @ts-expect-error a read's session has no save()
        req.session.save();
      }),
      asRead((req) => {
        // @ts-expect-error nor regenerate(), destroy() or the rest of express-session's Session
        req.session.regenerate(() => {});
      }),
    ];
    assert.equal(handlers.length, 3);
  });

  it('asRead › what the handler throws or rejects with reaches the error handler, as from any Express 5 route', async () => {
    const app = express();
    app.get(
      '/sync',
      asRead(() => {
        throw new HttpError(418, 'sync');
      }),
    );
    app.get(
      '/async',
      asRead(async () => {
        throw new HttpError(418, 'async');
      }),
    );
    app.use((err: HttpError, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(err.status).send(err.message);
    });
    for (const path of ['/sync', '/async']) {
      const res = await supertest(app).get(path).timeout(2_000);
      assert.equal(res.status, 418);
      assert.equal(res.text, path.slice(1));
    }
  });
});
