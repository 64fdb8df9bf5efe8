// The loop of the sandbox's controllers (the pod simulator, the External Secrets stand-in): one tick
// at a time, the next `pollMs` after the last ended; stop() ends it without waiting long on a tick
// stuck on an apiserver that no longer answers.
export class PollLoop {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly tick: () => Promise<void>,
    private readonly pollMs: number,
    private readonly log: (line: string) => void,
  ) {}

  start(): void {
    const loop = async () => {
      this.running = this.tick().catch((err) => this.log(`tick failed: ${err?.message ?? err}`));
      await this.running;
      if (this.timer !== null) this.timer = setTimeout(loop, this.pollMs);
    };
    this.timer = setTimeout(loop, 0);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await Promise.race([this.running, new Promise((r) => setTimeout(r, 5000).unref())]);
  }
}
