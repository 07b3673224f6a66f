/**
 * The test-only 'crash' message, the same for every worker host (ONNX sessions, WebGPU engine): a
 * worker started with test hooks dies on purpose, now (after a delay) or at its next run.
 */
import type { ToWorker } from './protocol.ts';

export type CrashHow = 'exit' | 'throw' | 'abort';
type CrashMsg = Extract<ToWorker, { t: 'crash' }>;

export class CrashHooks {
  private onRun: CrashHow | undefined;

  constructor(
    readonly enabled: boolean,
    private readonly die: (how: CrashHow) => void,
  ) {}

  /** A 'crash' message; ignored without test hooks. */
  request(msg: CrashMsg): void {
    if (!this.enabled) return;
    if (msg.onRun) this.onRun = msg.how;
    else setTimeout(() => this.die(msg.how), msg.delayMs ?? 0);
  }

  /** Called before each run: true when the worker was told to die there (and has). */
  diesOnRun(): boolean {
    if (this.onRun === undefined) return false;
    this.die(this.onRun);
    return true;
  }
}
