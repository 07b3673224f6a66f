/**
 * The whole chain on the real firmware: the daemon (its own process, real CLI) reads GPU
 * temperatures through the nvidia-smi reader, the zone controller and the quiet allocation decide
 * duties, the serial driver frames them over a pty, and the firmware image running in avr8js sets
 * its PWM compare registers. Then the daemon is SIGKILLed: no failsafe command, no close. The
 * firmware's own watchdog must take every fan to full within its 3 s.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { F_CPU, startSimulatedCooler, type SimulatedCooler } from '../helpers/avr/index.ts';
import { REPO, spawnCli, writeTempConfig, type DaemonProcess } from '../helpers/daemon-process.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';

const FAKE_SMI = join(REPO, 'test/fixtures/fake-nvidia-smi/nvidia-smi');

async function eventually(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

let board: SimulatedCooler;
let daemon: DaemonProcess | undefined;
beforeAll(async () => {
  board = await startSimulatedCooler({ fans: 4 });
}, 30_000);
afterAll(async () => {
  daemon?.child.kill('SIGKILL');
  await board?.stop();
});

describe('daemon with the simulated firmware as its cooler', () => {
  it('drives the firmware PWM from the controller, and the firmware goes to full fans within its watchdog when the daemon is killed', async () => {
    const state = mkdtempSync(join(tmpdir(), 'gance-e2e-'));
    const config = writeTempConfig(`
server: { host: 127.0.0.1, port: 0 }
stateDir: ${state}
cooler:
  driver: serial
  path: ${board.path}
  watchdogSeconds: 3
  fans:
    - { id: a, channel: 0 }
    - { id: b, channel: 1 }
    - { id: c, channel: 2 }
thermal:
  periodMs: 200
  sensors: { source: nvidia-smi, nvidiaSmiPath: ${FAKE_SMI}, fallback: none, intervalMs: 200 }
  zones:
    - { id: gpu0, gpus: [0], fans: [a, b, c], mode: pid, pid: { setpoint: 75 }, slewDownPerSecond: 0.5 }
synthesis: { enabled: false }
`);
    // A cool, idle GPU: the controller settles the zone at its quiet minimum.
    daemon = spawnCli(['daemon', '--config', config], { FAKE_NVIDIA_SMI_GPUS: JSON.stringify([{ index: 0, temperature: 45, power: 30, utilization: 0 }]) });
    const address = await daemon.address();

    // power-on state of the firmware: full until the host speaks
    expect(board.sim.duties().slice(0, 3).every((d) => d === 1)).toBe(true);
    try {
      await eventually(() => board.sim.duties().slice(0, 3).every((d) => d < 0.5), 30_000, 'controller duties to reach the firmware PWM');
    } catch (err) {
      const st = await fetch(`${address}/v1/thermal`).then((r) => r.text(), (e: Error) => e.message);
      throw new Error(`${(err as Error).message}\nfirmware duties: ${board.sim.duties()}\nthermal: ${st}\nlog: ${daemon.lines.map((l) => l.msg).join('\n')}`);
    }

    const thermal = (await (await fetch(`${address}/v1/thermal`)).json()) as { zones: Array<{ id: string; fans: Array<{ id: string; duty: number }> }> };
    const zone = thermal.zones.find((z) => z.id === 'gpu0')!;
    // what the API says it commanded is what the firmware's timers drive (within one PWM step)
    for (const [ch, id] of ['a', 'b', 'c'].entries()) {
      const commanded = zone.fans.find((f) => f.id === id)!.duty;
      expect(Math.abs(board.sim.pwm(ch).duty - commanded)).toBeLessThan(0.02);
    }
    expect(board.sim.duties()[3]).toBe(1); // a channel no zone drives stays at the safe default

    daemon.child.kill('SIGKILL');
    await daemon.exited;
    const killedAt = board.sim.cycles;
    await eventually(() => board.sim.duties().every((d) => d === 1), 30_000, 'all fans at 100%');
    const simMs = ((board.sim.cycles - killedAt) / F_CPU) * 1000;
    expect(simMs).toBeLessThanOrEqual(3000 + 50);
  }, 90_000);
});
