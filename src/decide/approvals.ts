/**
 * Approvals: the human side of a tool whose `approval` option asks for one. A call that
 * needs approval leaves a durable request in the store (the approval stage); a person
 * lists, approves or denies it here, from this process or another sharing the store, and
 * the decision records who made it and when.
 *
 * Deciding twice: the same decision again is a no-op that returns the record as it is
 * (the first decider and time are kept); the opposite decision is an ApprovalError, since
 * a call may already have run on the first one. An unknown id is an ApprovalError.
 */
import type { Clock } from "../clock.js";
import type { ApprovalRecord, Store } from "../store/types.js";

/** What a person sees of a request; `tool` is the tool's name. */
export type ApprovalRequest = Omit<ApprovalRecord, "fingerprint">;

export class ApprovalError extends Error {
  override readonly name = "ApprovalError";
}

export class Approvals {
  constructor(
    private readonly store: () => Store,
    private readonly clock: Clock,
  ) {}

  /** Requests, oldest first; all of them unless filtered. */
  async list(filter: { status?: ApprovalRecord["status"]; runId?: string } = {}): Promise<ApprovalRequest[]> {
    return (await this.store().approvals.list(filter)).map(view);
  }

  async get(id: string): Promise<ApprovalRequest | undefined> {
    const a = await this.store().approvals.get(id);
    return a && view(a);
  }

  approve(id: string, decision: { by: string }): Promise<ApprovalRequest> {
    return this.decide(id, "approved", decision?.by, undefined);
  }

  deny(id: string, decision: { by: string; reason?: string }): Promise<ApprovalRequest> {
    return this.decide(id, "denied", decision?.by, decision?.reason);
  }

  private async decide(id: string, status: "approved" | "denied", by: string | undefined, reason: string | undefined): Promise<ApprovalRequest> {
    const verb = status === "approved" ? "approve" : "deny";
    if (typeof id !== "string" || id.length === 0) throw new ApprovalError(`${verb}: an approval id is required`);
    if (typeof by !== "string" || by.trim().length === 0) throw new ApprovalError(`${verb}(${id}): say who decides, as { by: "name" }`);
    if (reason !== undefined && typeof reason !== "string") throw new ApprovalError(`deny(${id}): reason must be a text`);
    const after = await this.store().approvals.decide(id, { status, by, at: this.clock.now(), ...(reason !== undefined ? { reason } : {}) });
    if (!after) throw new ApprovalError(`there is no approval request with id ${JSON.stringify(id)}`);
    if (after.status !== status)
      throw new ApprovalError(
        `approval request ${id} was already ${after.status} by ${after.by ?? "someone"}${after.decidedAt !== undefined ? ` at ${new Date(after.decidedAt).toISOString()}` : ""}; it cannot be ${status === "approved" ? "approved" : "denied"} now`,
      );
    return view(after);
  }
}

function view(a: ApprovalRecord): ApprovalRequest {
  const { fingerprint: _, ...rest } = a;
  return rest;
}
