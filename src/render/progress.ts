/**
 * Progress events: the stage, frames done of the total, recent frames per second (over the last
 * few seconds, so a pause by the thermal throttle shows at once) and the time left at that rate.
 */
import type { RenderProgress, RenderStage } from './types.ts';

const WINDOW_MS = 5000;

export class ProgressMeter {
  private stageNow: RenderStage = 'analysing';
  private done = 0;
  private total: number | null = null;
  /** (time, frames done) samples within the window */
  private samples: Array<[number, number]> = [];

  constructor(
    private readonly emit: ((p: RenderProgress) => void) | undefined,
    private readonly now: () => number = () => performance.now(),
  ) {}

  stage(stage: RenderStage, framesTotal?: number, framesDone?: number): void {
    this.stageNow = stage;
    if (framesTotal !== undefined) this.total = framesTotal;
    if (framesDone !== undefined) {
      this.done = framesDone;
      this.samples = [[this.now(), framesDone]];
    }
    this.send();
  }

  frame(): void {
    this.done++;
    const t = this.now();
    this.samples.push([t, this.done]);
    while (this.samples.length > 2 && t - this.samples[0]![0] > WINDOW_MS) this.samples.shift();
    this.send();
  }

  /** frames per second over the window; null until two samples are apart in time */
  fps(): number | null {
    const a = this.samples[0];
    const b = this.samples.at(-1);
    if (!a || !b || b[0] <= a[0]) return null;
    return ((b[1] - a[1]) * 1000) / (b[0] - a[0]);
  }

  snapshot(): RenderProgress {
    const fps = this.fps();
    const left = this.total === null ? null : this.total - this.done;
    const eta = left === null ? null : left === 0 ? 0 : fps !== null && fps > 0 ? left / fps : null;
    return { stage: this.stageNow, framesDone: this.done, framesTotal: this.total, fps, etaSeconds: eta };
  }

  private send(): void {
    this.emit?.(this.snapshot());
  }
}
