// Real `rotor worker` processes for fault injection: each one's step log (`step started`, `ended`,
// `failed`, with the activity type, workflow id and attempt) is read as it is written, so a test can
// SIGKILL the worker inside a given step, start it again, and time how long the step took to run again.
import { join } from 'node:path';
import { spawnChild, stopChild, type Child } from './processes';
import { repoRoot } from './tools';

export interface StepEvent {
  /** Which worker of the pool (its slot), and which process of that slot (a restart is a new one). */
  worker: number;
  pid: number;
  event: 'started' | 'ended' | 'failed';
  step: string;
  workflowId: string | null;
  attempt: number;
  /** When this process read the line (ms since the epoch). */
  at: number;
}

interface Slot {
  child: Child;
  output: string;
  readyAt: number;
}

const STEP_LINE = /\[rotor\] step (started|ended|failed)[^{]*(\{.*\})\s*$/;

export class WorkerPool {
  readonly events: StepEvent[] = [];
  private readonly slots: Slot[] = [];
  private waiters: { pred: (e: StepEvent) => boolean; resolve: (e: StepEvent) => void }[] = [];
  private triggers: { pred: (e: StepEvent) => boolean; fire: (e: StepEvent) => void }[] = [];

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  /**
   * Starts worker `i` (again, after a kill); resolves once it polls. `release`: the checkout whose
   * `rotor worker` runs (another release's, for the upgrade test); this one's by default.
   */
  async start(i: number, release = repoRoot): Promise<void> {
    const child = spawnChild(`rotor worker #${i}`, process.execPath, [join(release, 'bin', 'rotor.js'), 'worker'], {
      env: { ...process.env, ...this.env },
      cwd: release,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const slot: Slot = { child, output: '', readyAt: 0 };
    this.slots[i] = slot;
    let partial = '';
    child.proc.stderr!.on('data', (d: Buffer) => {
      const at = Date.now();
      slot.output = (slot.output + d).slice(-50_000);
      const lines = (partial + d).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) this.read(i, child.pid, line, at);
    });
    const deadline = Date.now() + 60_000;
    while (!/worker ready/.test(slot.output)) {
      if (child.proc.exitCode !== null) throw new Error(`rotor worker #${i} exited (${child.proc.exitCode}):\n${slot.output}`);
      if (Date.now() > deadline) throw new Error(`rotor worker #${i} not ready after 60 s:\n${slot.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    slot.readyAt = Date.now();
  }

  private read(worker: number, pid: number, line: string, at: number): void {
    const m = STEP_LINE.exec(line);
    if (!m) return;
    const fields = JSON.parse(m[2]) as { step: string; workflowId: string | null; attempt: number };
    const e: StepEvent = { worker, pid, event: m[1] as StepEvent['event'], step: fields.step, workflowId: fields.workflowId, attempt: fields.attempt, at };
    this.events.push(e);
    // Synchronously, as the line is read: before any answer the step awaits is relayed.
    for (const t of this.triggers.filter((x) => x.pred(e))) {
      this.triggers.splice(this.triggers.indexOf(t), 1);
      t.fire(e);
    }
    for (const w of this.waiters.filter((x) => x.pred(e))) {
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve(e);
    }
  }

  /**
   * The first step event that `pred` accepts from now on, or, with `since`, the first one already
   * read at or after that time (a step that began while the caller was busy restarting a worker).
   */
  next(pred: (e: StepEvent) => boolean, timeoutMs = 120_000, what = 'a step event', since?: number): Promise<StepEvent> {
    const seen = since === undefined ? undefined : this.events.find((e) => e.at >= since && pred(e));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`no ${what} within ${timeoutMs / 1000} s; last steps: ${JSON.stringify(this.events.slice(-5))}`));
      }, timeoutMs);
      const done = (e: StepEvent) => {
        clearTimeout(timer);
        resolve(e);
      };
      this.waiters.push({ pred, resolve: done });
    });
  }

  /** Calls `fire` once, synchronously, for the first step event from now on that `pred` accepts. */
  onNext(pred: (e: StepEvent) => boolean, fire: (e: StepEvent) => void): void {
    this.triggers.push({ pred, fire });
  }

  /** SIGKILL worker `i` (its whole process group); resolves with the time of the kill once it is gone. */
  async kill(i: number): Promise<number> {
    const { child } = this.slots[i];
    const at = Date.now();
    const gone = new Promise((r) => child.proc.once('exit', r));
    process.kill(-child.pid, 'SIGKILL');
    await gone;
    return at;
  }

  /** SIGTERM worker `i`, as a rolling update does, and SIGKILL it if it has not exited after `graceMs`. */
  async terminate(i: number, graceMs = 30_000): Promise<void> {
    await stopChild(this.slots[i].child, { graceMs });
  }

  readyAt(i: number): number {
    return this.slots[i].readyAt;
  }

  pid(i: number): number {
    return this.slots[i].child.pid;
  }

  output(i: number): string {
    return this.slots[i]?.output ?? '';
  }

  async stop(): Promise<void> {
    for (const slot of this.slots) if (slot) await stopChild(slot.child, { graceMs: 5000 });
  }
}
