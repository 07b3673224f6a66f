/**
 * Talks to the simulated firmware directly over its UART, in simulated time (no pty, no wall
 * clock): for firmware tests that step the CPU themselves.
 */
import { FrameParser, encodeFrame, type Frame } from '../../../src/cooler/protocol/frame.ts';
import { Command, REPLY_BIT, TYPE_ERROR } from '../../../src/cooler/protocol/messages.ts';
import type { CoolerSim } from './sim.ts';

export class SimClient {
  readonly parser = new FrameParser();
  /** every frame the firmware sent, in order */
  readonly received: Frame[] = [];
  private seq = 0;

  constructor(readonly sim: CoolerSim) {
    sim.onTx((b) => this.received.push(...this.parser.push(Uint8Array.of(b))));
  }

  /** Sends raw bytes (garbage, truncated frames...). */
  sendRaw(bytes: Uint8Array | number[]): void {
    this.sim.write(bytes);
  }

  /** Sends one frame; returns its sequence number. */
  send(type: number, payload: Uint8Array = Buffer.alloc(0), seq = (this.seq = (this.seq + 1) & 0xff)): number {
    this.sim.write(encodeFrame(seq, type, payload));
    return seq;
  }

  /** Runs the simulation until a frame with `seq` arrives (reply or error). */
  waitFor(seq: number, timeoutMs = 200): Frame {
    let found: Frame | undefined;
    const from = this.received.length;
    this.sim.runUntil(() => (found = this.received.slice(from).find((f) => f.seq === seq)) !== undefined, timeoutMs, 0.25);
    if (!found) throw new Error(`no reply to seq ${seq} within ${timeoutMs} ms of simulated time`);
    return found;
  }

  /** Sends a command and returns the reply payload; an error reply throws. */
  request(type: number, payload?: Uint8Array, timeoutMs?: number): Buffer {
    const seq = this.send(type, payload);
    const f = this.waitFor(seq, timeoutMs);
    if (f.type === TYPE_ERROR) throw new Error(`device error ${f.payload[0]} about 0x${f.payload[1]?.toString(16)}`);
    if (f.type !== (type | REPLY_BIT)) throw new Error(`reply type 0x${f.type.toString(16)} to 0x${type.toString(16)}`);
    return f.payload;
  }

  /** Sends a command and returns the whole answering frame (error replies included). */
  exchange(type: number, payload?: Uint8Array, timeoutMs?: number): Frame {
    return this.waitFor(this.send(type, payload), timeoutMs);
  }

  errors(): Frame[] {
    return this.received.filter((f) => f.type === TYPE_ERROR);
  }
}

export { Command };

/** A sim that has booted (`bootMs` of simulated time) with a client on its UART. */
export function bootSim(sim: CoolerSim, bootMs = 10): SimClient {
  const client = new SimClient(sim);
  sim.runMs(bootMs);
  return client;
}
