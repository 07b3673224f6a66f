import { fileURLToPath } from 'node:url';

/** The fake nvidia-smi script (plain JS, run with this node). */
export const FAKE_NVIDIA_SMI = fileURLToPath(new URL('./fake-nvidia-smi.mjs', import.meta.url));

/** GPU values the fake prints; null prints [N/A], 'unsupported' prints [Not Supported]. */
export interface FakeGpu {
  index: number;
  uuid?: string;
  name?: string;
  busId?: string;
  temperature?: number | null | 'unsupported';
  power?: number | null | 'unsupported';
  utilization?: number | null | 'unsupported';
  reasons?: number | null | 'unsupported';
  powerLimit?: number;
}

export type FakeCommand =
  | { cmd: 'hang' }
  | { cmd: 'resume' }
  | { cmd: 'exit'; code: number }
  | { cmd: 'line'; text: string }
  | { cmd: 'interval'; ms: number };

/** One stdin message for the fake: new GPU values and/or a command. */
export function fakeMessage(msg: { gpus?: FakeGpu[] } | FakeCommand): string {
  return `${JSON.stringify(msg)}\n`;
}
