/**
 * The newest frame of a session and who watches it. Each client has its own writer that holds at
 * most one frame in its socket and one waiting: a slow client skips to the newest frame (its skips
 * are counted) and never holds up the session or the other clients.
 */
export interface LiveFrame {
  /** session-wide frame number (grows across analysis restarts) */
  seq: number;
  network: string;
  width: number;
  height: number;
  jpeg: Buffer;
  /** hrtime (ns) when the newest audio this frame depends on arrived */
  audioAt: bigint;
  /** seconds on the session's audio timeline of the music this frame shows (its recordings' clock) */
  at: number;
  /** where the synthesized picture lies on a framing's canvas (null: no framing) */
  placement: { x: number; y: number; width: number; height: number } | null;
  /** performance.now() when the frame was published */
  publishedAt: number;
}

export type Output = 'mjpeg' | 'ws' | 'ffmpeg';

export interface Client {
  readonly output: Output;
  /** frames this client skipped because it was still writing an earlier one */
  readonly dropped: number;
  offer(frame: LiveFrame): void;
  close(): void;
}

/**
 * How long a client may leave one frame unread before it is let go. Memory is bounded without it
 * (one frame in the socket, one waiting), but a client that connects and never reads held one of
 * the session's maxClients for ever: enough of them (the MJPEG stream is a read route, open
 * without a token unless server.auth.read says so) and the projector itself was refused 409.
 * Long enough for a projector on a poor link to catch up.
 */
export const STALLED_CLIENT_MS = 30_000;

/**
 * Writes the newest frame offered, one at a time: `write` calls `done` once the transport took it
 * (drained), and a frame offered meanwhile waits in a single slot (a newer one replaces it). A
 * write not done within `stall.ms` calls `stall.onStalled` (the transport closes the client).
 */
export class NewestWriter {
  private writing = false;
  private waiting: LiveFrame | null = null;
  private closed = false;
  private stallTimer: NodeJS.Timeout | null = null;
  dropped = 0;

  constructor(
    private readonly write: (frame: LiveFrame, done: () => void) => void,
    private readonly onDrop: () => void,
    private readonly stall?: { ms: number; onStalled: () => void },
  ) {}

  offer(frame: LiveFrame): void {
    if (this.closed) return;
    if (!this.writing) return this.start(frame);
    if (this.waiting) {
      this.dropped++;
      this.onDrop();
    }
    this.waiting = frame;
  }

  close(): void {
    this.closed = true;
    this.waiting = null;
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = null;
  }

  private start(frame: LiveFrame): void {
    this.writing = true;
    let called = false;
    const stall = this.stall;
    if (stall) {
      this.stallTimer = setTimeout(() => {
        this.stallTimer = null;
        if (!called && !this.closed) stall.onStalled();
      }, stall.ms);
      this.stallTimer.unref();
    }
    this.write(frame, () => {
      if (called) return;
      called = true;
      if (this.stallTimer) clearTimeout(this.stallTimer);
      this.stallTimer = null;
      this.writing = false;
      const next = this.waiting;
      this.waiting = null;
      if (next && !this.closed) this.start(next);
    });
  }
}

export class FrameHub {
  private readonly clients = new Set<Client>();
  private last: LiveFrame | null = null;

  get latest(): LiveFrame | null {
    return this.last;
  }

  count(output: Output): number {
    let n = 0;
    for (const c of this.clients) if (c.output === output) n++;
    return n;
  }

  get size(): number {
    return this.clients.size;
  }

  publish(frame: LiveFrame): void {
    this.last = frame;
    for (const c of this.clients) c.offer(frame);
  }

  /** Adds a client; it gets the newest frame at once, so a new projector never starts black. */
  add(client: Client): void {
    this.clients.add(client);
    if (this.last) client.offer(this.last);
  }

  remove(client: Client): void {
    this.clients.delete(client);
  }

  closeAll(): void {
    for (const c of [...this.clients]) c.close();
    this.clients.clear();
  }
}
