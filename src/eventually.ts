/**
 * A value now, or a promise of it. The call's path answers synchronously where a stage has
 * nothing to wait for: every `await` costs a promise and a turn of the microtask queue, and a
 * guarded call that waits only for its tool should pay for that one wait, not one per stage.
 */
export type Eventually<T> = T | Promise<T>;

/** Whether `v` is to be waited for (a native promise: the call's path makes no other thenables). */
export function isPromise<T>(v: Eventually<T>): v is Promise<T> {
  return v instanceof Promise;
}
