/**
 * An agent process of the process-crash scenario, started by `crashChild` and killed by
 * it. It makes its transfers at once, each bare or through a Bulwark run (one runtime per
 * store, as an agent worker has), and each stops where it was told, just before or just
 * after its row is written: it prints its marker on stdout and waits to be killed with
 * SIGKILL. If nobody kills the process, it exits with code 3 after 30 s rather than
 * finish a call.
 *
 * argv[2]: a CrashOrder as JSON. The runtimes run on a manual clock that starts at
 * `startMs` and never moves: no timeout fires while a call waits to be killed.
 */
import { ManualClock } from "../../clock.js";
import { createRuntime, type Runtime } from "../../runtime.js";
import { bareHands } from "../agent.js";
import { crashMarker, TransferLedger, transferTool, type CrashJob, type CrashOrder } from "./process-crash.js";

const order = JSON.parse(process.argv[2]!) as CrashOrder;
const clock = new ManualClock(order.startMs);
const worlds = new Map<string, TransferLedger>();
const runtimes = new Map<string, Runtime>();
setTimeout(() => process.exit(3), 30_000);

async function start(job: CrashJob): Promise<void> {
  const world = worlds.get(job.worldPath) ?? worlds.set(job.worldPath, new TransferLedger(job.worldPath)).get(job.worldPath)!;
  const stop = (): Promise<never> => {
    process.stdout.write(`${crashMarker(job)}\n`);
    return new Promise<never>(() => {});
  };
  const tool = transferTool(world, { at: job.at, now: stop });
  if (!job.guarded) return void (await bareHands().call(tool, job.transfer));
  const rt = runtimes.get(job.store) ?? runtimes.set(job.store, createRuntime({ store: job.store, clock, onError: () => {} })).get(job.store)!;
  await rt.ready();
  await rt.startRun({ agent: "transfer-agent" }).call(tool, job.transfer);
}

await Promise.all(order.jobs.map(start));
throw new Error("the calls finished: the process should have been killed first");
