/** Where one process of the stack is in its life, as the control API reports it. */
export type State = 'starting' | 'ready' | 'paused' | 'stopping' | 'stopped' | 'killed' | 'crashed';

/** A control request that cannot be served as asked; `status` is the HTTP status the control API answers. */
export class StackRequestError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}
