/**
 * The simulated GPU's synthesis load (simulation.profile synthesis), on a manual clock: its power
 * follows the frames actually made, so the energy a render puts into the GPU does not depend on
 * how fast the machine making its frames happens to be, and a pause stops the heating at once.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { k80Rig } from '../../../src/thermal/plant/index.ts';
import { SimRig } from '../../../src/thermal/sim/rig.ts';
import { SynthesisLoad } from '../../../src/thermal/sim/synthesis-load.ts';
import { createSynthesisMetrics } from '../../../src/synthesis/metrics.ts';

const IDLE_W = 30;
const POLL_MS = 250;

function setup() {
  let ms = 0;
  const registry = new Registry();
  const frames = createSynthesisMetrics(registry).frames;
  const load = new SynthesisLoad({ registry, workerGpu: new Map([['w0', 0]]), pollMs: POLL_MS });
  const rig = new SimRig({ plant: k80Rig({ gpus: 2 }), profile: 'synthesis', clock: () => ms });
  rig.setActivity(load.activity);
  /** energy GPU 0 drew over idle, J */
  let joules = 0;
  /**
   * `seconds` of rendering at `fps` (frames counted as a worker does, in batches), the plant read
   * every 50 ms as the sensors do and the load polled every POLL_MS
   */
  const render = async (seconds: number, fps: number) => {
    const powers: number[] = [];
    for (let k = 0; k < (seconds * 1000) / 50; k++) {
      ms += 50;
      if (fps > 0 && k % 2 === 1) frames.inc({ worker: 'w0' }, (fps * 100) / 1000);
      joules += (rig.plant.gpu(0).powerW - IDLE_W) * 0.05;
      rig.advance();
      if (ms % POLL_MS === 0) await load.poll(ms);
      powers.push(rig.plant.gpu(0).powerW);
    }
    return powers;
  };
  return { rig, render, joules: () => joules, power: (g: number) => rig.plant.gpu(g).powerW };
}

describe('simulated GPU load from synthesis', () => {
  it('full power at the highest rate shown; the same frames made at half that rate draw half the power for twice as long', async () => {
    const { render, joules, power } = setup();
    // batches land unevenly on the polls: the power over a second, not one reading
    const mean = (w: number[]) => w.slice(-20).reduce((a, b) => a + b, 0) / 20;
    // from the first frames on, full power (the full-power rate is still rising to the render's)
    expect(mean(await render(5, 100))).toBeGreaterThan(145);
    // the full-power rate settles to the render's sustained rate
    expect(mean(await render(20, 100))).toBeGreaterThan(145);
    // GPU 1 has no synthesis worker: it keeps the profile (idle)
    expect(power(1)).toBe(IDLE_W);
    const j0 = joules();
    await render(10, 100);
    const fast = joules() - j0;
    const half = await render(20, 50);
    const slow = joules() - j0 - fast;
    expect(mean(half)).toBeGreaterThan(85);
    expect(mean(half)).toBeLessThan(95);
    // 1000 frames either way: the same energy within a poll's worth
    expect(Math.abs(slow - fast)).toBeLessThan(120 * 0.5);
    expect(fast).toBeCloseTo(120 * 10, -2);
  });

  it('a render that pauses stops heating within a poll or two, not after a low-pass', async () => {
    const { render } = setup();
    await render(5, 100);
    const after = await render(1, 0);
    // 50 ms pieces: by 0.5 s the GPU is idle
    expect(after[10]).toBeCloseTo(IDLE_W, 6);
  });

  it('frames made faster than full power allows heat the GPU at full power, and not for long after', async () => {
    const { render } = setup();
    await render(5, 100);
    const burst = await render(2, 400);
    expect(Math.max(...burst)).toBeLessThanOrEqual(150 + 1e-9);
    expect(burst.slice(-20).every((w) => w === 150)).toBe(true);
    // what it could not work off is kept one poll at most
    const after = await render(1, 0);
    expect(after[4]).toBe(150);
    expect(after[10]).toBeCloseTo(IDLE_W, 6);
  });
});
