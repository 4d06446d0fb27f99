import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { SessionData } from 'express-session';

/** The safe methods (RFC 9110, section 9.2.1): a request with one of them asks to change nothing. */
const READS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/**
 * Whether a request is a read: the one answer the app gives everywhere. A read gets no body parser and no CSRF check,
 * and sees the session read-only, without express-session (session.ts); any other method, including one nobody has
 * routed yet, is parsed, CSRF-checked and may write the session.
 */
export const isRead = (req: Pick<Request, 'method'>): boolean => READS.has(req.method);

/** The session as a read sees it: loaded without express-session and frozen (session.ts), nothing to change or save. */
export type ReadSession = Readonly<Partial<Pick<SessionData, 'user' | 'loginAt' | 'theme'>>>;

/**
 * A request as a read route sees it: its session read-only in the type as it is at run time. Express has one Request
 * type for every method, whose session has `save()` and settable fields; any Request is also a ReadRequest, so code
 * shared by reads and writes takes this one.
 */
export type ReadRequest = Omit<Request, 'session'> & { readonly session: ReadSession };

/**
 * Declares a route's handler a read (GET, HEAD): it is handed a ReadRequest, so a change to the session or a `save()`
 * in it does not compile (app/test/unit/reads.test.ts) instead of throwing at run time on the frozen session.
 */
export const asRead =
  (handler: (req: ReadRequest, res: Response, next: NextFunction) => unknown): RequestHandler =>
  (req, res, next) =>
    handler(req, res, next);
