import type { Request } from 'express';

/** The safe methods (RFC 9110, section 9.2.1): a request with one of them asks to change nothing. */
const READS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/**
 * Whether a request is a read: the one answer the app gives everywhere. A read gets no body parser and no CSRF check,
 * and sees the session read-only, without express-session (session.ts); any other method, including one nobody has
 * routed yet, is parsed, CSRF-checked and may write the session.
 */
export const isRead = (req: Pick<Request, 'method'>): boolean => READS.has(req.method);
