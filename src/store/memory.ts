/**
 * The memory store: everything in this process, gone when it exits. For tests, for
 * single-process agents that need no durability, and as the reference the durable stores
 * are checked against (they pass the same conformance suite).
 */
import type {
  CallJournalEntry,
  ApprovalRecord,
  ApprovalStore,
  BreakerRecord,
  BreakerStore,
  ClaimRequest,
  FreezeRecord,
  FreezeStore,
  ClaimResult,
  CommitResult,
  HandoffRecord,
  HandoffStore,
  IdempotencyRecord,
  IdempotencyStore,
  MutationRecord,
  MutationStore,
  RunRecord,
  RunStore,
  Store,
  StoredOutcome,
} from "./types.js";
import { Waiters } from "./durable.js";
import { MemoryAlerts, MemoryMonitors } from "./memory-alerts.js";
import { MemoryShadowDecisions } from "./shadow-decisions.js";
import { MemoryCallJournal } from "./call-journal.js";

// Records are kept as JSON text, as a real database keeps rows: what a caller holds is
// never what is stored, and what comes back is what SQLite or PostgreSQL would give back.
// Text is also the cheap way: one stringify on write instead of a deep copy each way.
const copy = <T>(v: T): T => (v === undefined ? v : JSON.parse(JSON.stringify(v)));

/** `seq`: the order of claims, for `latestInRun`. */
type StoredClaim = Omit<IdempotencyRecord, "outcome"> & { outcome?: string; seq: number };

class MemoryIdempotency implements IdempotencyStore {
  private readonly records = new Map<string, StoredClaim>();
  private readonly waiters = new Waiters();
  private seq = 0;

  private id(scope: string, key: string) {
    return Waiters.id(scope, key);
  }

  private view(r: StoredClaim): IdempotencyRecord {
    const { outcome, seq: _, ...rest } = r;
    return outcome === undefined ? { ...rest } : { ...rest, outcome: JSON.parse(outcome) };
  }

  async claim(req: ClaimRequest): Promise<ClaimResult> {
    const id = this.id(req.scope, req.key);
    const existing = this.records.get(id);
    const take = (generation: number) => {
      this.records.set(id, {
        scope: req.scope,
        key: req.key,
        fingerprint: req.fingerprint,
        state: "in_flight",
        generation,
        owner: req.owner,
        runId: req.runId,
        leaseUntil: req.now + req.leaseMs,
        createdAt: req.now,
        expiresAt: req.now + req.retentionMs,
        seq: ++this.seq,
      });
      return this.seq;
    };
    if (!existing || (existing.state === "completed" && existing.expiresAt <= req.now)) {
      return { status: "claimed", fence: take(0) };
    }
    if (existing.fingerprint !== req.fingerprint) return { status: "conflict", record: this.view(existing) };
    if (req.replace && existing.state !== "in_flight" && existing.owner === req.replace.owner) {
      return { status: "claimed", fence: take(req.replace.generation) };
    }
    if (existing.state === "completed") return { status: "completed", record: this.view(existing) };
    if (existing.state === "unsettled") return { status: "unsettled", record: this.view(existing) };
    if (existing.leaseUntil > req.now) return { status: "in_flight", record: this.view(existing) };
    const record = this.view(existing);
    return { status: "lease_expired", record, fence: take(existing.generation) };
  }

  async complete(scope: string, key: string, owner: string, outcome: StoredOutcome, now: number, as: "completed" | "unsettled" = "completed") {
    const r = this.records.get(this.id(scope, key));
    if (!r || r.owner !== owner || r.state !== "in_flight") return false;
    r.state = as;
    r.outcome = JSON.stringify(outcome);
    r.expiresAt = Math.max(r.expiresAt, now);
    this.waiters.wake(this.id(scope, key));
    return true;
  }

  async latestInRun(scope: string, runId: string, keyPrefix: string) {
    let latest: StoredClaim | undefined;
    for (const r of this.records.values()) {
      if (r.scope === scope && r.runId === runId && r.state !== "in_flight" && r.key.startsWith(keyPrefix) && (!latest || r.seq > latest.seq)) latest = r;
    }
    return latest?.key;
  }

  async unfinished(runId: string) {
    return [...this.records.values()]
      .filter((r) => r.runId === runId && r.state !== "completed")
      .sort((a, b) => a.seq - b.seq)
      .map((r) => this.view(r));
  }

  async renew(scope: string, key: string, owner: string, leaseUntil: number) {
    const r = this.records.get(this.id(scope, key));
    if (!r || r.owner !== owner || r.state !== "in_flight") return false;
    r.leaseUntil = Math.max(r.leaseUntil, leaseUntil);
    return true;
  }

  async release(scope: string, key: string, owner: string) {
    const id = this.id(scope, key);
    const r = this.records.get(id);
    if (r && r.owner === owner && r.state === "in_flight") this.records.delete(id);
    this.waiters.wake(id);
  }

  async get(scope: string, key: string) {
    const r = this.records.get(this.id(scope, key));
    return r && this.view(r);
  }

  waitForChange(scope: string, key: string, timeoutMs: number): Promise<void> {
    return this.waiters.wait(this.id(scope, key), timeoutMs).promise;
  }

  async sweep(now: number) {
    let n = 0;
    for (const [id, r] of this.records) {
      if (r.state === "completed" && r.expiresAt <= now) {
        this.records.delete(id);
        n++;
      }
    }
    return n;
  }
}

class MemoryBreakers implements BreakerStore {
  private readonly records = new Map<string, BreakerRecord>();
  async get(tool: string) {
    const r = this.records.get(tool);
    return r && copy(r);
  }
  async put(record: BreakerRecord) {
    this.records.set(record.tool, copy(record));
  }
  async list() {
    return [...this.records.values()].map(copy);
  }
}

class MemoryRuns implements RunStore {
  constructor(private readonly journal: MemoryCallJournal) {}
  // The records themselves, not text: `commit` is on the path of every call, and both sides
  // treat committed records as immutable (see RunStore). `get` and `list` copy.
  private readonly records = new Map<string, RunRecord>();
  async get(runId: string) {
    return copy(this.records.get(runId));
  }
  async create(record: RunRecord) {
    const existing = this.records.get(record.runId);
    if (existing) return { created: false, record: copy(existing) };
    const { stopRequested: _ignored, ...rest } = record;
    this.records.set(record.runId, copy(rest));
    return { created: true, record: copy(rest) };
  }
  async commit(prev: RunRecord, next: RunRecord, calls?: readonly CallJournalEntry[]): Promise<CommitResult> {
    const current = this.records.get(prev.runId);
    if (!current || current.version !== prev.version) return { committed: false, current };
    const { stopRequested: _ignored, ...rest } = next;
    this.records.set(prev.runId, current.stopRequested ? { ...rest, stopRequested: current.stopRequested } : rest);
    this.journal.append(prev.runId, calls);
    return { committed: true };
  }
  async requestStop(runId: string, reason: string, at: number) {
    const r = this.records.get(runId);
    if (!r) return false;
    if (!r.stopRequested) this.records.set(runId, { ...r, stopRequested: { reason, at }, version: r.version + 1 });
    return true;
  }
  async stopRequested(runId: string) {
    const stop = this.records.get(runId)?.stopRequested;
    return stop && { ...stop };
  }
  async list(filter: { status?: RunRecord["status"]; limit?: number } = {}) {
    const all = [...this.records.values()]
      .filter((r) => !filter.status || r.status === filter.status)
      .sort((a, b) => b.startedAt - a.startedAt);
    return all.slice(0, filter.limit ?? all.length).map(copy);
  }
}

class MemoryMutations implements MutationStore {
  // The row as text, with the fields rollback moves kept beside it.
  private readonly records = new Map<string, { runId: string; status: MutationRecord["status"]; error: string | undefined; row: string }>();
  async record(m: MutationRecord) {
    this.records.set(m.id, { runId: m.runId, status: m.status, error: m.error, row: JSON.stringify(m) });
  }
  async list(runId: string) {
    const rows: MutationRecord[] = [];
    for (const r of this.records.values()) {
      if (r.runId !== runId) continue;
      const m: MutationRecord = { ...JSON.parse(r.row), status: r.status };
      if (r.error !== undefined) m.error = r.error;
      rows.push(m);
    }
    return rows.sort((a, b) => a.seq - b.seq);
  }
  async transition(id: string, from: MutationRecord["status"], to: MutationRecord["status"], error?: string) {
    const m = this.records.get(id);
    if (!m || m.status !== from) return false;
    m.status = to;
    if (error !== undefined) m.error = error;
    return true;
  }
}

class MemoryApprovals implements ApprovalStore {
  private readonly records = new Map<string, ApprovalRecord>();
  async create(a: ApprovalRecord) {
    this.records.set(a.id, copy(a));
  }
  async get(id: string) {
    const a = this.records.get(id);
    return a && copy(a);
  }
  async find(runId: string, fingerprint: string) {
    let newest: ApprovalRecord | undefined;
    for (const a of this.records.values()) {
      if (a.runId === runId && a.fingerprint === fingerprint && (!newest || a.requestedAt >= newest.requestedAt)) newest = a;
    }
    return newest && copy(newest);
  }
  async list(filter: { status?: ApprovalRecord["status"]; runId?: string } = {}) {
    return [...this.records.values()]
      .filter((a) => (!filter.status || a.status === filter.status) && (!filter.runId || a.runId === filter.runId))
      .sort((a, b) => a.requestedAt - b.requestedAt)
      .map(copy);
  }
  async decide(id: string, d: { status: "approved" | "denied"; by: string; reason?: string; at: number }) {
    const a = this.records.get(id);
    if (!a) return undefined;
    if (a.status === "pending") {
      a.status = d.status;
      a.by = d.by;
      a.decidedAt = d.at;
      if (d.reason !== undefined) a.reason = d.reason;
    }
    return copy(a);
  }
}

class MemoryHandoffs implements HandoffStore {
  private readonly records: HandoffRecord[] = [];
  async create(h: HandoffRecord) {
    this.records.push(copy(h));
  }
  async list(filter: { status?: HandoffRecord["status"]; runId?: string } = {}) {
    return this.records
      .filter((h) => (!filter.status || h.status === filter.status) && (!filter.runId || h.runId === filter.runId))
      .map(copy);
  }
}

class MemoryFreezes implements FreezeStore {
  private readonly records = new Map<string, FreezeRecord>();
  async put(f: FreezeRecord) {
    this.records.set(f.id, copy(f));
  }
  async lift(id?: string) {
    if (id !== undefined) return this.records.delete(id) ? 1 : 0;
    const n = this.records.size;
    this.records.clear();
    return n;
  }
  async list() {
    return [...this.records.values()].sort((a, b) => a.at - b.at).map(copy);
  }
}

export function memoryStore(): Store {
  const callJournal = new MemoryCallJournal();
  return {
    kind: "memory",
    idempotency: new MemoryIdempotency(),
    breakers: new MemoryBreakers(),
    runs: new MemoryRuns(callJournal),
    callJournal,
    mutations: new MemoryMutations(),
    approvals: new MemoryApprovals(),
    handoffs: new MemoryHandoffs(),
    freezes: new MemoryFreezes(),
    alerts: new MemoryAlerts(),
    monitors: new MemoryMonitors(),
    shadow: new MemoryShadowDecisions(),
    close: async () => {},
  };
}
