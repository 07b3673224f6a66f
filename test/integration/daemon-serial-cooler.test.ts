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

async function until(pred: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!(await pred())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let board: SimulatedCooler;
let daemon: DaemonProcess | undefined;
const others: { board?: SimulatedCooler; daemon?: DaemonProcess } = {};
beforeAll(async () => {
  board = await startSimulatedCooler({ fans: 4 });
}, 30_000);
afterAll(async () => {
  daemon?.child.kill('SIGKILL');
  others.daemon?.child.kill('SIGKILL');
  await board?.stop();
  await others.board?.stop();
});

interface ThermalDoc {
  zones: Array<{ id: string; fans: Array<{ id: string; duty: number; rpm: number | null }>; alarms: Array<{ kind: string }> }>;
  cooler: { linkUp: boolean; deviceFailsafe: boolean | null };
}

/** The value of an unlabelled series in a Prometheus text page (NaN included). */
function series(page: string, name: string): number | undefined {
  const m = page.match(new RegExp(`^${name} (\\S+)$`, 'm'));
  return m ? Number(m[1]) : undefined;
}

describe('daemon with the simulated firmware as its cooler', () => {
  it('drives the firmware PWM from the controller, and the firmware goes to full fans within its watchdog when the daemon is killed', async () => {
    const state = mkdtempSync(join(tmpdir(), 'gance-e2e-'));
    const config = writeTempConfig(`
server: { host: 127.0.0.1, port: 0, metricsCacheMs: 0 }   # each check reads the state it just caused
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
    // The firmware's watchdog counts from the last command frame it got: note when each passed the wire.
    let lastHostFrameAt = board.sim.cycles;
    board.bridge.toDevice = (_f, bytes) => {
      lastHostFrameAt = board.sim.cycles;
      return bytes;
    };
    // A cool, idle GPU: the controller settles the zone at its quiet minimum.
    daemon = spawnCli(['daemon', '--config', config], { FAKE_NVIDIA_SMI_GPUS: JSON.stringify([{ index: 0, temperature: 45, power: 30, utilization: 0 }]) });
    const address = await daemon.address();

    // power-on state of the firmware: full until the host speaks
    expect(board.sim.duties().slice(0, 3).every((d) => d === 1)).toBe(true);
    // What the API says it commanded is what the firmware's timers drive (within one PWM step), read
    // together: read one after the other while the zone still slews down, a tick between the two
    // reads (more likely under load) made them differ by a whole slew step.
    let commanded: number[] = [];
    const driven = () => [0, 1, 2].map((ch) => board.sim.pwm(ch).duty);
    try {
      await until(
        async () => {
          const thermal = (await (await fetch(`${address}/v1/thermal`)).json()) as { zones: Array<{ id: string; fans: Array<{ id: string; duty: number }> }> };
          const zone = thermal.zones.find((z) => z.id === 'gpu0')!;
          commanded = ['a', 'b', 'c'].map((id) => zone.fans.find((f) => f.id === id)!.duty);
          const pwm = driven();
          return commanded.every((c, i) => c < 0.5 && Math.abs(pwm[i]! - c) < 0.02);
        },
        60_000,
        'controller duties (under 0.5) to reach the firmware PWM',
      );
    } catch (err) {
      const st = await fetch(`${address}/v1/thermal`).then((r) => r.text(), (e: Error) => e.message);
      throw new Error(`${(err as Error).message}\ncommanded: ${commanded}\nfirmware duties: ${board.sim.duties()}\nthermal: ${st}\nlog: ${daemon.lines.map((l) => l.msg).join('\n')}`);
    }
    expect(board.sim.duties()[3]).toBe(1); // a channel no zone drives stays at the safe default

    // From here on only the firmware acts, so it runs in simulated time alone: the sim is frozen
    // while the daemon dies (what it wrote before dying reaches the firmware when the sim runs on),
    // then run until the watchdog trips. The realtime runner gave the watchdog's 3 s as much wall time
    // as the machine's load took, and a 30 s wall bound failed where the sim ran 10 times slower.
    await board.runner.stop();
    daemon.child.kill('SIGKILL');
    await daemon.exited;
    const full = () => board.sim.duties().every((d) => d === 1);
    expect(full()).toBe(false);
    expect(board.sim.runUntil(full, 10_000, 1)).toBe(true);
    const simMs = ((board.sim.cycles - lastHostFrameAt) / F_CPU) * 1000;
    // 3 s after the last command, within the 1 ms step and a frame's time on the wire
    expect(simMs).toBeGreaterThanOrEqual(3000 - 1);
    expect(simMs).toBeLessThanOrEqual(3000 + 50);
  }, 90_000);

  it('shows a fan without a tach as unknown rpm, and with the cable pulled the device failsafe as unknown, then assumed after its watchdog', async () => {
    // fan b (channel 1) has its tach wire cut
    const b2 = (others.board = await startSimulatedCooler({ fans: [{}, { tach: false }, {}, {}] }));
    const state = mkdtempSync(join(tmpdir(), 'gance-e2e-'));
    const config = writeTempConfig(`
server: { host: 127.0.0.1, port: 0, metricsCacheMs: 0 }   # each check reads the state it just caused
stateDir: ${state}
cooler:
  driver: serial
  path: ${b2.path}
  watchdogSeconds: 3
  fans:
    - { id: a, channel: 0 }
    - { id: b, channel: 1 }
thermal:
  periodMs: 200
  sensors: { source: nvidia-smi, nvidiaSmiPath: ${FAKE_SMI}, fallback: none, intervalMs: 200 }
  zones:
    - { id: gpu0, gpus: [0], fans: [a, b], mode: fixed, fixedDuty: 0.6 }
synthesis: { enabled: false }
`);
    const d = (others.daemon = spawnCli(['daemon', '--config', config], { FAKE_NVIDIA_SMI_GPUS: JSON.stringify([{ index: 0, temperature: 45, power: 30, utilization: 0 }]) }));
    const address = await d.address();
    const thermal = async (): Promise<ThermalDoc> => (await fetch(`${address}/v1/thermal`)).json() as Promise<ThermalDoc>;
    const metrics = async (): Promise<string> => (await fetch(`${address}/metrics`)).text();

    let doc: ThermalDoc | undefined;
    await eventually(() => b2.sim.duties()[0]! < 1, 30_000, 'the daemon driving the firmware');
    // once the tach fan reads a speed, b has had its tach windows too
    await until(async () => ((doc = await thermal()).zones[0]!.fans.find((f) => f.id === 'a')!.rpm ?? 0) > 1000, 20_000, 'rpm on fan a');
    const fans = doc!.zones[0]!.fans;
    expect(fans.find((f) => f.id === 'a')!.rpm).toBeGreaterThan(1000);
    expect(fans.find((f) => f.id === 'b')!.rpm).toBeNull();
    expect(doc!.zones[0]!.alarms.map((a) => a.kind)).not.toContain('fan-stalled');
    // read from the device while the link works (waited for: a slow machine may lose a reply now and then)
    await until(async () => (await thermal()).cooler.deviceFailsafe === false && series(await metrics(), 'gance_cooler_device_failsafe') === 0, 10_000, 'the device failsafe read as false');

    // A failsafe before the unplug is right only for a device that went silent (the simulated board
    // shares the test's CPU and may really answer late on a loaded machine): the loop logs that
    // command's failure first. One without it is the daemon misjudging its own stall as silence.
    const beforeUnplug = d.lines.length;
    const commanded = (l: { msg: string }) => /failsafe commanded/.test(l.msg);
    const firstCommanded = d.lines.findIndex(commanded);
    if (firstCommanded >= 0) expect(d.lines.slice(0, firstCommanded).map((l) => l.msg)).toContainEqual(expect.stringMatching(/cooler command failed/));
    await b2.unplug();
    const unpluggedAt = b2.sim.cycles; // the firmware heard the host last before this
    await d.waitFor((l) => /cooler failsafe command could not be sent/.test(l.msg), 10_000);
    expect(d.lines.slice(beforeUnplug).some(commanded)).toBe(false);
    const line = d.lines.find((l) => /could not be sent/.test(l.msg))!;
    expect(line.msg).toMatch(/the firmware watchdog takes the fans to its failsafe duty after 3 s without host traffic/);
    // right after the loss the firmware may still run our duties: unknown
    const lostAt = Date.now();
    doc = await thermal();
    const page = await metrics();
    const context = `${Date.now() - lostAt} ms after the log line; log:\n${d.lines.map((l) => l.msg).join('\n')}`;
    expect(doc.cooler.linkUp, context).toBe(false);
    expect(doc.cooler.deviceFailsafe, context).toBeNull();
    expect(series(page, 'gance_cooler_device_failsafe'), context).toBeNaN();
    await until(async () => (await thermal()).cooler.deviceFailsafe === true, 15_000, 'the assumed device failsafe');
    const later = await metrics();
    expect(series(later, 'gance_cooler_device_failsafe')).toBe(1);
    expect(series(later, 'gance_cooler_device_failsafe_assumed')).toBe(1);
    // What it assumed is what the real firmware did, within its 3 s of simulated time: the sim
    // runs slower than the wall clock on a loaded machine, so the wall-clock bound only catches a stuck one.
    const tripBy = unpluggedAt + ((3000 + 50) / 1000) * F_CPU;
    await eventually(() => b2.sim.duties().every((x) => x === 1) || b2.sim.cycles > tripBy, 60_000, '3 s of simulated time after the unplug');
    expect(b2.sim.duties()).toEqual([1, 1, 1, 1]);
  }, 90_000);
});
