/**
 * Work in flight that someone will wait for (the runtime's close, a run's rollback): every
 * call is added and removed once, so this is an array of slots with a free list, not a Set,
 * whose add and delete of a new promise cost a call more than all of its stages' awaits.
 */
export class PendingWork {
  private readonly slots: (Promise<unknown> | undefined)[] = [];
  private readonly free: number[] = [];

  /** Hold `work` until it settles, here and in `also`; one reaction removes it from both. */
  track<T>(work: Promise<T>, also?: PendingWork): Promise<T> {
    const here = this.add(work);
    const there = also?.add(work) ?? -1;
    work.then(
      () => this.settled(here, also, there),
      () => this.settled(here, also, there),
    );
    return work;
  }

  /** The work in flight now. */
  list(): Promise<unknown>[] {
    return this.slots.filter((w): w is Promise<unknown> => w !== undefined);
  }

  private add(work: Promise<unknown>): number {
    const i = this.free.pop() ?? this.slots.length;
    this.slots[i] = work;
    return i;
  }

  private remove(i: number): void {
    this.slots[i] = undefined;
    this.free.push(i);
  }

  private settled(here: number, also: PendingWork | undefined, there: number): void {
    this.remove(here);
    also?.remove(there);
  }
}
