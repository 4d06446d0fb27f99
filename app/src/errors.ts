/** An error whose status and message are safe to show to the client. */
export class HttpError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(status: number, message: string, options: { headers?: Record<string, string>; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.status = status;
    this.headers = options.headers ?? {};
  }
}

/** How long a client should wait after a 503 before trying again; the Redis client retries faster than this. */
export const RETRY_AFTER_S = 1;

/** Redis (or another dependency) could not answer in time: an honest, fast 503. */
export class ServiceUnavailableError extends HttpError {
  constructor(cause: unknown) {
    super(503, 'The service is briefly unavailable. Please try again in a moment.', {
      headers: { 'Retry-After': String(RETRY_AFTER_S) },
      cause,
    });
  }
}
