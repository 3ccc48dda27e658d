/**
 * The runs a runtime has in this process, by id, so that `rt.stopRun` can stop one at once
 * (cancelling its calls in flight). Held weakly: a run nobody holds any more leaves memory
 * (its state is in the store, and it can be resumed by id). Generic in what it holds, so
 * that it needs nothing of run.ts, whose host holds a LiveRuns<Run>.
 */
export class LiveRuns<Run extends WeakKey & { readonly id: string }> {
  private readonly runs = new Map<string, WeakRef<Run>>();
  private readonly gone = new FinalizationRegistry<string>((id) => {
    if (this.runs.get(id)?.deref() === undefined) this.runs.delete(id);
  });
  get(id: string): Run | undefined {
    return this.runs.get(id)?.deref();
  }
  add(run: Run) {
    this.runs.set(run.id, new WeakRef(run));
    this.gone.register(run, run.id);
  }
  delete(run: Run) {
    if (this.get(run.id) === run) this.runs.delete(run.id);
  }
  get size() {
    return this.runs.size;
  }
}

