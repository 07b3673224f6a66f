import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedCooler } from '../../src/cooler/simulated.ts';
import { SimRig, plantConfigFor } from '../../src/thermal/sim/rig.ts';
import type { FanConfig } from '../../src/cooler/config.ts';

const fans: FanConfig[] = ['a', 'b', 'c'].map((s, k) => ({ id: `gpu0-${s}`, channel: k, maxRpm: 9000, minDuty: 0.2, startDuty: 0.5, maxDba: 40 }));
const zones = [{ gpus: [0], fans: fans.map((f) => f.id) }];

/** a rig on a hand-driven clock: ms */
function rigAt(profile: 'idle' | 'full' = 'full') {
  let now = 0;
  const rig = new SimRig({ plant: plantConfigFor(fans, zones, 30), profile, clock: () => now });
  return { rig, tick: (ms: number) => (now += ms) };
}

const opened: SimulatedCooler[] = [];
afterEach(async () => {
  await Promise.all(opened.map((c) => c.close()));
  opened.length = 0;
});
async function cooler(extra: Partial<ConstructorParameters<typeof SimulatedCooler>[0]> = {}) {
  const c = new SimulatedCooler({ fans, thermistors: [{ id: 'sink0', channel: 0 }], ...extra });
  opened.push(c);
  await c.open();
  return c;
}

describe('simulated cooler on the plant', () => {
  it('drives the plant fans and reads their tach back', async () => {
    const { rig, tick } = rigAt();
    const c = await cooler();
    c.attachPlant(rig);
    await c.setDuties({ 'gpu0-a': 0.6, 'gpu0-b': 0.6, 'gpu0-c': 0 });
    tick(10_000);
    const st = await c.read();
    expect(st.failsafe).toBe(false);
    const byId = Object.fromEntries(st.fans.map((f) => [f.id, f]));
    expect(byId['gpu0-a']).toMatchObject({ duty: 0.6 });
    expect(byId['gpu0-a']!.rpm).toBeGreaterThan(5300);
    expect(byId['gpu0-a']!.rpm).toBeLessThan(5500);
    expect(byId['gpu0-c']!.rpm).toBe(0);
    expect(rig.plant.fan('gpu0-b').duty).toBe(0.6);
  });

  it('cools the simulated GPU harder at higher duty', async () => {
    const runAt = async (duty: number) => {
      const { rig, tick } = rigAt('full');
      const c = await cooler();
      c.attachPlant(rig);
      await c.setDuties(Object.fromEntries(fans.map((f) => [f.id, duty])));
      for (let k = 0; k < 60; k++) {
        tick(10_000);
        await c.read();
      }
      return rig.plant.gpu(0).temperatureC;
    };
    const slow = await runAt(0.3);
    const fast = await runAt(1);
    expect(fast).toBeLessThan(slow - 10);
    expect(fast).toBeGreaterThan(55);
  });

  it('reports a thermistor on the simulated heatsink, a little below the die', async () => {
    const { rig, tick } = rigAt('full');
    const c = await cooler();
    c.attachPlant(rig);
    tick(60_000);
    const st = await c.read();
    const die = rig.plant.gpu(0).temperatureC;
    const sink = st.thermistors[0]!.celsius!;
    expect(sink).toBeLessThan(die);
    expect(sink).toBeGreaterThan(die - 20);
  });

  it('failsafe takes every fan to full', async () => {
    const { rig } = rigAt();
    const c = await cooler();
    c.attachPlant(rig);
    await c.setDuties({ 'gpu0-a': 0.2, 'gpu0-b': 0.2, 'gpu0-c': 0.2 });
    await c.failsafe('test');
    const st = await c.read();
    expect(st.failsafe).toBe(true);
    expect(st.fans.every((f) => f.duty === 1)).toBe(true);
    expect(rig.plant.fan('gpu0-c').duty).toBe(1);
    expect(c.failsafeLog).toEqual(['test']);
  });

  it('refuses unknown fans and duties outside 0..1', async () => {
    const c = await cooler();
    await expect(c.setDuties({ nope: 0.5 })).rejects.toThrow('unknown fan "nope"');
    await expect(c.setDuties({ 'gpu0-a': 1.5 })).rejects.toThrow('duty must be within 0..1');
  });

  it('a lost link rejects commands, says so, and the device watchdog goes to full on its own', async () => {
    const { rig } = rigAt();
    const c = await cooler({ watchdogSeconds: 0.5 });
    c.attachPlant(rig);
    const links: boolean[] = [];
    c.on('link', (up: boolean) => links.push(up));
    await c.setDuties({ 'gpu0-a': 0.3, 'gpu0-b': 0.3, 'gpu0-c': 0.3 });
    c.simulateFault('link-lost');
    expect(c.linkUp).toBe(false);
    await expect(c.setDuties({ 'gpu0-a': 0.3 })).rejects.toThrow('link lost');
    await expect(c.failsafe('x')).rejects.toThrow('link lost');
    await new Promise((r) => setTimeout(r, 800));
    expect(rig.plant.fan('gpu0-a').duty).toBe(1);
    c.simulateFault(null);
    expect(links).toEqual([false, true]);
    await c.setDuties({ 'gpu0-a': 0.4 });
    expect(rig.plant.fan('gpu0-a').duty).toBe(0.4);
  });

  it('an unresponsive device never answers', async () => {
    const c = await cooler();
    c.simulateFault('unresponsive');
    const r = await Promise.race([c.setDuties({ 'gpu0-a': 0.5 }).then(() => 'answered'), new Promise((res) => setTimeout(() => res('timeout'), 200))]);
    expect(r).toBe('timeout');
    expect(c.linkUp).toBe(true);
  });

  it('without the plant, rpm still follows duty', async () => {
    const c = await cooler();
    await c.setDuties({ 'gpu0-a': 0.5, 'gpu0-b': 0.5, 'gpu0-c': 0.5 });
    await new Promise((r) => setTimeout(r, 300));
    const st = await c.read();
    expect(st.fans[0]!.rpm).toBeGreaterThan(0);
    expect(st.fans[0]!.rpm).toBeLessThan(9000);
  });
});
