/** Keeping the Models panel fresh: one request in flight at a time, and a timed refresh while
 * the panel is visible and no dialog is open. */

export const REFRESH_MS = 30_000;

export class Poller {
  /** The one request in flight; refreshes wait for it instead of overlapping. */
  private inflight: Promise<void> | null = null;
  private timer = 0;

  /** `busy(true)` when a request starts, `busy(false)` when it ends. */
  constructor(private readonly busy: (on: boolean) => void) {}

  /** The request in flight, if any: a refresh asked for meanwhile joins it. */
  get pending(): Promise<void> | null {
    return this.inflight;
  }

  /** Run `work` as the one request in flight, after the one before it ends. */
  async exclusive(work: () => Promise<void>): Promise<void> {
    while (this.inflight) {
      await this.inflight.catch(() => undefined);
    }
    this.busy(true);
    const run = work().finally(() => {
      this.inflight = null;
      this.busy(false);
    });
    this.inflight = run;
    return run;
  }

  /** Call `refresh` every REFRESH_MS while `visible()`, idle and without a dialog open. */
  start(refresh: () => void, visible: () => boolean): void {
    this.stop();
    this.timer = window.setInterval(() => {
      if (visible() && !this.inflight && !document.querySelector('.jp-Dialog')) {
        refresh();
      }
    }, REFRESH_MS);
  }

  stop(): void {
    window.clearInterval(this.timer);
  }
}
