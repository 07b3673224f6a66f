/**
 * Frames follow the audio clock: latents arrive at the music's pace, and this decides which of
 * them become frames. At most `maxInFlight` are in synthesis; a latent arriving while synthesis is
 * full waits in a single slot, and a newer one replaces it (the older is dropped, cause "behind"),
 * so the picture falls back to fewer frames instead of drifting behind the music. Frames that
 * finish out of order (several workers) are shown only if newer than the last shown one.
 */
export type DropCause = 'behind' | 'order' | 'synthesis' | 'encode' | 'restart';
export const DROP_CAUSES: readonly DropCause[] = ['behind', 'order', 'synthesis', 'encode', 'restart'];

export class Pacer<T> {
  private inFlight = 0;
  private waiting: T | null = null;
  private lastShown = -1;

  constructor(
    public maxInFlight: number,
    private readonly start: (item: T) => void,
    private readonly drop: (cause: DropCause) => void,
  ) {}

  get busy(): number {
    return this.inFlight;
  }

  /** A new latent: into synthesis now, or into the waiting slot (replacing an older one). */
  offer(item: T): void {
    if (this.inFlight < this.maxInFlight) {
      this.inFlight++;
      this.start(item);
      return;
    }
    if (this.waiting !== null) this.drop('behind');
    this.waiting = item;
  }

  /** A started item has finished (shown, failed or dropped): the waiting one, if any, goes in. */
  finished(): void {
    this.inFlight--;
    if (this.waiting !== null && this.inFlight < this.maxInFlight) {
      const next = this.waiting;
      this.waiting = null;
      this.inFlight++;
      this.start(next);
    }
  }

  /** Whether frame `seq` may be shown: false (dropped, cause "order") when a newer one already was. */
  admit(seq: number): boolean {
    if (seq <= this.lastShown) {
      this.drop('order');
      return false;
    }
    this.lastShown = seq;
    return true;
  }

  /** The waiting latent is stale (the analysis restarts): drop it. */
  clearWaiting(): void {
    if (this.waiting === null) return;
    this.waiting = null;
    this.drop('restart');
  }
}

/** The recent values of one latency stage, for the session view's p50/p99 (the histogram has them all). */
export class RecentWindow {
  private readonly values: number[] = [];
  private next = 0;

  constructor(private readonly size = 512) {}

  add(v: number): void {
    if (this.values.length < this.size) this.values.push(v);
    else this.values[this.next] = v;
    this.next = (this.next + 1) % this.size;
  }

  get count(): number {
    return this.values.length;
  }

  clear(): void {
    this.values.length = 0;
    this.next = 0;
  }

  quantile(q: number): number | null {
    if (this.values.length === 0) return null;
    const sorted = [...this.values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  }
}

/** Frames per second over the last `windowMs`, from the times frames were shown. */
export class RateMeter {
  private readonly times: number[] = [];

  constructor(private readonly windowMs = 2000) {}

  tick(now: number): void {
    this.times.push(now);
    while (this.times.length > 0 && this.times[0]! < now - this.windowMs) this.times.shift();
  }

  rate(now: number): number {
    while (this.times.length > 0 && this.times[0]! < now - this.windowMs) this.times.shift();
    if (this.times.length < 2) return 0;
    return (this.times.length - 1) / ((this.times.at(-1)! - this.times[0]!) / 1000);
  }
}
