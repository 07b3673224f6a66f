/**
 * The simulated GPUs read the way real ones are: the fake nvidia-smi runs as a child process and
 * prints the plant's values in nvidia-smi's CSV, parsed and supervised by the real NvidiaSmiSource.
 * The plant lives in this process (the simulated cooler drives its fans); its GPU values reach the
 * fake through its stdin.
 */
import type { ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import { NvidiaSmiSource } from './nvidia-smi.ts';
import { FAKE_NVIDIA_SMI, fakeMessage, type FakeCommand } from '../sim/fake-nvidia-smi.ts';
import type { SimRig } from '../sim/rig.ts';

export interface SimulatedSourceOptions {
  intervalMs: number;
  silentAfterMs: number;
  restartMinMs: number;
  restartMaxMs: number;
  log: Logger;
}

export class SimulatedSmiSource extends NvidiaSmiSource {
  override readonly kind = 'simulated';
  private readonly sinks: Set<ChildProcess>;
  private readonly intervalMs: number;
  private feedTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly rig: SimRig,
    opts: SimulatedSourceOptions,
  ) {
    const sinks = new Set<ChildProcess>();
    super({
      ...opts,
      command: process.execPath,
      argsPrefix: [FAKE_NVIDIA_SMI],
      env: { ...process.env, FAKE_NVIDIA_SMI_FED: '1' },
      onSpawn: (child) => {
        sinks.add(child);
        child.on('close', () => sinks.delete(child));
        this.feed(child);
      },
    });
    this.sinks = sinks;
    this.intervalMs = opts.intervalMs;
  }

  override async start(): Promise<void> {
    await super.start();
    // Twice per print interval, so each printed line is at most half an interval old.
    this.feedTimer = setInterval(() => {
      for (const c of this.sinks) this.feed(c);
    }, Math.max(20, Math.floor(this.intervalMs / 2)));
    this.feedTimer.unref();
  }

  override async stop(): Promise<void> {
    clearInterval(this.feedTimer);
    await super.stop();
  }

  /** Send a command to the running fake (tests: hang, exit, garbage lines). */
  command(cmd: FakeCommand): void {
    for (const c of this.sinks) c.stdin?.write(fakeMessage(cmd));
  }

  private feed(child: ChildProcess): void {
    if (child.stdin?.writable) child.stdin.write(fakeMessage({ gpus: this.rig.gpuReadings() }));
  }
}
