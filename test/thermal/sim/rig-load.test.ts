/** The simulated rig's synthesis load and power cap (what yielding acts on in simulation), on a manual clock. */
import { describe, expect, it } from 'vitest';
import { k80Rig } from '../../../src/thermal/plant/index.ts';
import { SimRig } from '../../../src/thermal/sim/rig.ts';
import { simulatedPowerLimiter } from '../../../src/thermal/yield/power-limit.ts';

function rig(profile: 'full' | 'synthesis') {
  let ms = 0;
  const r = new SimRig({ plant: k80Rig({ gpus: 2 }), profile, clock: () => ms });
  return { r, tick: (s: number) => ((ms += s * 1000), r.advance()), power: (g: number) => r.plant.gpu(g).powerW };
}

describe('simulated rig load', () => {
  it('a power cap below the default holds the GPU under it; lifted, the profile comes back', async () => {
    const { r, tick, power } = rig('full');
    tick(2);
    expect(power(0)).toBe(150);
    const pl = simulatedPowerLimiter(r);
    expect(await pl.read(0)).toEqual({ defaultW: 150, minW: 60, maxW: 175, currentW: 150 });
    await pl.set(0, 100);
    tick(2);
    expect([power(0), power(1)]).toEqual([100, 150]);
    expect((await pl.read(0)).currentW).toBe(100);
    expect(r.gpuReadings()[0]!.powerLimit).toBe(100);
    await expect(pl.set(0, 20)).rejects.toThrow(/outside 60..175 W/);
    await pl.set(0, 150);
    tick(2);
    expect(power(0)).toBe(150);
  });

  it('with an activity source each GPU draws idle + (full - idle) x activity; others keep the profile', () => {
    const { r, tick, power } = rig('synthesis');
    let a = 0.5;
    r.setActivity((g) => (g === 0 ? a : null));
    tick(2);
    expect([power(0), power(1)]).toEqual([90, 30]);
    a = 1;
    tick(1);
    expect(power(0)).toBe(150);
    r.setPowerCap(0, 120);
    tick(1);
    expect(power(0)).toBe(120);
    r.setPowerCap(0, null);
    r.setActivity(null);
    tick(1);
    expect(power(0)).toBe(30);
  });
});
