import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { Supervisor } from '../../src/lifecycle/supervisor.ts';
import { startOrder, type Unit } from '../../src/lifecycle/unit.ts';

const log = pino({ level: 'silent' });

function recorder() {
  const events: string[] = [];
  const unit = (name: string, dependsOn: string[] = [], extra: Partial<Unit> = {}): Unit => ({
    name,
    dependsOn,
    async start() {
      events.push(`start ${name}`);
    },
    async stop() {
      events.push(`stop ${name}`);
    },
    ...extra,
  });
  return { events, unit };
}

describe('unit ordering', () => {
  it('starts dependencies first whatever the declaration order', () => {
    const { unit } = recorder();
    const order = startOrder([unit('thermal', ['cooler', 'sensors']), unit('sensors'), unit('cooler'), unit('http')]).map((u) => u.name);
    expect(order.indexOf('cooler')).toBeLessThan(order.indexOf('thermal'));
    expect(order.indexOf('sensors')).toBeLessThan(order.indexOf('thermal'));
  });

  it('refuses cycles and unknown dependencies', () => {
    const { unit } = recorder();
    expect(() => startOrder([unit('a', ['b']), unit('b', ['a'])])).toThrow(/cycle.*a, b/);
    expect(() => startOrder([unit('a', ['ghost'])])).toThrow(/unknown unit "ghost"/);
  });
});

describe('Supervisor', () => {
  it('stops in reverse start order', async () => {
    const { events, unit } = recorder();
    const s = new Supervisor([unit('thermal', ['cooler']), unit('cooler'), unit('api')], log);
    await s.start();
    await s.stop();
    expect(events).toEqual(['start cooler', 'start thermal', 'start api', 'stop api', 'stop thermal', 'stop cooler']);
  });

  it('on a failed start, stops what had started and rethrows naming the unit', async () => {
    const { events, unit } = recorder();
    const bad = unit('synthesis', ['cooler'], {
      async start() {
        throw new Error('no network');
      },
    });
    const s = new Supervisor([unit('cooler'), bad, unit('late', ['synthesis'])], log);
    await expect(s.start()).rejects.toThrow('synthesis: no network');
    expect(events).toEqual(['start cooler', 'stop cooler']);
  });

  it('bounds a stop that hangs and still stops the rest', async () => {
    const { events, unit } = recorder();
    const s = new Supervisor([unit('cooler'), unit('stuck', ['cooler'], { stop: () => new Promise(() => {}) })], log);
    await s.start();
    const t0 = Date.now();
    await s.stop(200);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(events).toContain('stop cooler');
    expect(s.unitStatus('stuck')).toBe('stopped');
  });

  it('reports readiness per unit and liveness', async () => {
    const { unit } = recorder();
    let sensorsReady = false;
    let loopAlive = true;
    const s = new Supervisor([unit('cooler'), unit('thermal', ['cooler'], { ready: () => sensorsReady, alive: () => loopAlive })], log);
    expect(s.notReady()).toEqual(['cooler', 'thermal']);
    await s.start();
    expect(s.notReady()).toEqual(['thermal']);
    sensorsReady = true;
    expect(s.notReady()).toEqual([]);
    expect(s.allAlive()).toBe(true);
    loopAlive = false;
    expect(s.allAlive()).toBe(false);
  });

  it('shares one stop between concurrent callers', async () => {
    const { events, unit } = recorder();
    const s = new Supervisor([unit('a')], log);
    await s.start();
    await Promise.all([s.stop(), s.stop()]);
    expect(events.filter((e) => e === 'stop a')).toHaveLength(1);
  });
});
