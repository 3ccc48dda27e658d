/**
 * Freezes declared at run time: a person says "no more changes" while runs are in
 * flight (`rt.freeze(reason)`), and every write and destructive call of every run is
 * refused as `frozen` from then on; reads go on. The freeze is kept in the store, so that
 * other processes sharing it refuse mutations too.
 *
 * The board is the runtime's copy of the declared freezes: admission reads it without
 * waiting (`at`), and a run refreshes it from the store before each mutation
 * (`refresh`), so a freeze declared by another process holds from that process's next
 * write on. Freezes set in a policy (`policy.freeze`) are checked by admission directly.
 */
import { randomUUID } from "node:crypto";
import type { Clock } from "../clock.js";
import { PolicyError } from "../policy.js";
import { readInstant } from "../time.js";
import type { FreezeRecord, Store } from "../store/types.js";

export interface FreezeOptions {
  /** Who declares it (shown to reviewers and in the failure's detail). */
  by?: string;
  /** When it starts [now]: epoch ms, a Date, or ISO 8601 text with its time zone (see readInstant). */
  from?: number | string | Date;
  /** When it ends [until lifted]. */
  to?: number | string | Date;
}

export class FreezeBoard {
  private declared: FreezeRecord[] = [];

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  /** The freeze holding at `now`, if any: the one that lasts longest. */
  at(now: number): { reason?: string; until?: number; id: string } | undefined {
    let holding: FreezeRecord | undefined;
    for (const f of this.declared) {
      if ((f.from !== undefined && now < f.from) || (f.to !== undefined && now >= f.to)) continue;
      if (!holding || (holding.to !== undefined && (f.to === undefined || f.to > holding.to))) holding = f;
    }
    if (!holding) return undefined;
    return {
      id: holding.id,
      ...(holding.reason !== undefined ? { reason: holding.reason } : {}),
      ...(holding.to !== undefined ? { until: holding.to } : {}),
    };
  }

  /** Adopt the freezes in the store (declared or lifted by any process). */
  async refresh(): Promise<void> {
    this.declared = await this.store.freezes.list();
  }

  async declare(reason?: string, options: FreezeOptions = {}): Promise<FreezeRecord> {
    if (reason !== undefined && typeof reason !== "string") throw new TypeError("freeze(reason): reason must be a text");
    const now = this.clock.now();
    const read = (end: "from" | "to") => {
      if (options[end] === undefined) return undefined;
      const r = readInstant(options[end]);
      if ("problem" in r) throw new PolicyError(`freeze: ${end}: ${r.problem}`);
      return r.ms;
    };
    const from = read("from");
    const to = read("to");
    if (to !== undefined && to <= (from ?? now))
      throw new PolicyError(`freeze ends (${new Date(to).toISOString()}) before it starts (${new Date(from ?? now).toISOString()})`);
    const record: FreezeRecord = {
      id: randomUUID(),
      at: now,
      ...(from !== undefined ? { from } : {}),
      ...(to !== undefined ? { to } : {}),
      ...(reason !== undefined ? { reason } : {}),
      ...(options.by !== undefined ? { by: options.by } : {}),
    };
    await this.store.freezes.put(record);
    // Held here at once, so that this process's next call is refused without a store read.
    this.declared = [...this.declared.filter((f) => f.id !== record.id), record];
    return record;
  }

  /** Lift one freeze, or all of them; returns how many were lifted. */
  async lift(id?: string): Promise<number> {
    this.declared = id === undefined ? [] : this.declared.filter((f) => f.id !== id);
    const n = await this.store.freezes.lift(id);
    await this.refresh();
    return n;
  }

  async list(): Promise<FreezeRecord[]> {
    await this.refresh();
    return this.declared.map((f) => ({ ...f }));
  }
}
