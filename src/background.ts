/**
 * Starts a promise now and lets the caller await it later (or not at all, when a step fails
 * first) without an unhandled rejection meanwhile.
 */
export function inBackground<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}
