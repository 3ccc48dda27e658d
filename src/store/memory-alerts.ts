/**
 * The memory store's alerts and monitors: the reference semantics (see types.ts) that the
 * SQLite and PostgreSQL tables are checked against by the conformance suite.
 */
import type { AlertRecord, AlertStore, MonitorRecord, MonitorStore, NewAlert } from "./types.js";

const copy = <T>(v: T): T => (v === undefined ? v : JSON.parse(JSON.stringify(v)));

export class MemoryAlerts implements AlertStore {
  /** In insertion order; `list` reverses it (newest first). */
  private readonly all: AlertRecord[] = [];

  async raise(a: NewAlert) {
    const open = this.all.find((r) => r.key === a.key && r.state !== "resolved");
    const { at, ...rest } = a;
    if (open) {
      Object.assign(open, { lastAt: at, count: open.count + 1, summary: a.summary, ...(a.details !== undefined ? { details: copy(a.details) } : {}) });
      return { alert: copy(open), fresh: false };
    }
    const alert: AlertRecord = { ...copy(rest), state: "firing", firstAt: at, lastAt: at, count: 1 };
    this.all.push(alert);
    return { alert: copy(alert), fresh: true };
  }

  async resolve(key: string, at: number) {
    const open = this.all.find((r) => r.key === key && r.state !== "resolved");
    if (!open) return undefined;
    Object.assign(open, { state: "resolved", resolvedAt: at });
    return copy(open);
  }

  async acknowledge(id: string, by: string, at: number) {
    const r = this.all.find((x) => x.id === id);
    if (r?.state === "firing") Object.assign(r, { state: "acknowledged", acknowledgedBy: by, acknowledgedAt: at });
    return copy(r);
  }

  async get(id: string) {
    return copy(this.all.find((x) => x.id === id));
  }

  async list(filter: { state?: AlertRecord["state"]; limit?: number } = {}) {
    const rows = this.all.filter((r) => !filter.state || r.state === filter.state).reverse();
    return copy(rows.slice(0, filter.limit ?? rows.length));
  }
}

export class MemoryMonitors implements MonitorStore {
  private readonly rows = new Map<string, { version: number; data: string; updatedAt: number }>();

  async get(key: string): Promise<MonitorRecord | undefined> {
    const r = this.rows.get(key);
    return r && { key, version: r.version, data: JSON.parse(r.data), updatedAt: r.updatedAt };
  }

  async put(key: string, expected: number, data: unknown, at: number) {
    if ((this.rows.get(key)?.version ?? 0) !== expected) return false;
    this.rows.set(key, { version: expected + 1, data: JSON.stringify(data), updatedAt: at });
    return true;
  }

  async list() {
    return [...this.rows.keys()].sort().map((key) => {
      const r = this.rows.get(key)!;
      return { key, version: r.version, data: JSON.parse(r.data), updatedAt: r.updatedAt };
    });
  }
}
