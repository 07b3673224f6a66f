/** The thermal subsystem factory in nvidia-smi mode (the fake nvidia-smi as the real one) and its config errors. */
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/app.ts';
import { resolveConfig } from '../../src/config/load.ts';
import type { Cooler } from '../../src/cooler/cooler.ts';
import { SimulatedCooler } from '../../src/cooler/simulated.ts';
import { createEventBus } from '../../src/events.ts';
import type { Unit } from '../../src/lifecycle/unit.ts';
import { createRegistry } from '../../src/metrics.ts';
import { ServiceRegistry } from '../../src/subsystem.ts';
import { thermalSubsystem } from '../../src/thermal/subsystem.ts';
import type { ThermalView } from '../../src/thermal/service/view.ts';
import { untilAsync } from './service/harness.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/fake-nvidia-smi', import.meta.url));
const savedPath = process.env.PATH;
const savedGpus = process.env.FAKE_NVIDIA_SMI_GPUS;
beforeAll(() => {
  // systeminformation finds nvidia-smi and lspci on PATH: the fakes
  process.env.PATH = `${FIXTURES}:${process.env.PATH}`;
  process.env.FAKE_NVIDIA_SMI_GPUS = JSON.stringify([{ index: 0, temperature: 58, power: 90 }]);
});
afterAll(() => {
  process.env.PATH = savedPath;
  if (savedGpus === undefined) delete process.env.FAKE_NVIDIA_SMI_GPUS;
  else process.env.FAKE_NVIDIA_SMI_GPUS = savedGpus;
});

function config(sensors: Record<string, unknown>) {
  return resolveConfig({
    stateDir: mkdtempSync(join(tmpdir(), 'gance-sub-')),
    cooler: { driver: 'simulated', fans: [{ id: 'f0', channel: 0 }, { id: 'f1', channel: 1 }] },
    thermal: { periodMs: 100, sensors: { intervalMs: 200, staleAfterMs: 2000, restartMinMs: 100, restartMaxMs: 400, ...sensors }, zones: [{ id: 'z0', gpus: [0], fans: ['f0', 'f1'], pid: { setpoint: 65 } }] },
  });
}

let running: { unit: Unit; app: FastifyInstance; cooler: Cooler } | undefined;
afterEach(async () => {
  if (running) {
    await running.unit.stop();
    await running.cooler.close();
    await running.app.close();
  }
  running = undefined;
});

async function start(c: ReturnType<typeof config>, cooler: Cooler = new SimulatedCooler(c.cooler)) {
  const registry = createRegistry();
  const sub = await thermalSubsystem({ config: c, log: pino({ level: 'silent' }), registry, cooler, events: createEventBus(), services: new ServiceRegistry() });
  const app = await buildApp({ registry, plugins: sub.plugins, notReady: () => [] });
  await cooler.open();
  const unit = sub.units[0]!;
  expect(unit).toMatchObject({ name: 'thermal', dependsOn: ['cooler'] });
  await unit.start();
  running = { unit, app, cooler };
  return { app, unit, state: async () => (await app.inject('/v1/thermal')).json() as ThermalView };
}

describe('thermal subsystem', () => {
  it('nvidia-smi mode: streams from nvidia-smi, names the GPUs through systeminformation, controls the zone', async () => {
    const { state, unit } = await start(config({ source: 'nvidia-smi', nvidiaSmiPath: join(FIXTURES, 'nvidia-smi') }));
    const s = await untilAsync('under control with a name', async () => {
      const v = await state();
      return !v.zones[0]!.failsafe && v.gpus[0]?.name === 'Tesla K80' ? v : undefined;
    }, 10_000);
    expect(s.sensors).toMatchObject({ source: 'nvidia-smi', running: true, reasonsField: 'clocks_event_reasons.active' });
    expect(s.gpus[0]).toMatchObject({ index: 0, temperature: 58, power: 90, source: 'nvidia-smi' });
    expect(s.zones[0]).toMatchObject({ id: 'z0', temperature: 58, setpoint: 65 });
    expect(unit.ready!()).toBe(true);
  });

  it('nvidia-smi missing: fans full with nvidia-smi-down, temperatures still shown from systeminformation', async () => {
    const { state } = await start(config({ source: 'nvidia-smi', nvidiaSmiPath: '/nonexistent/nvidia-smi' }));
    const s = await untilAsync('fallback reading', async () => {
      const v = await state();
      return v.gpus[0]?.source === 'systeminformation' ? v : undefined;
    }, 15_000);
    expect(s.gpus[0]!.temperature).toBe(58);
    expect(s.zones[0]!.failsafe).toBe(true);
    expect(s.zones[0]!.alarms.map((a) => a.kind)).toContain('nvidia-smi-down');
    expect(s.sensors.lastError).toBe('/nonexistent/nvidia-smi: not found');
    expect(s.zones[0]!.fans.every((f) => f.duty === 1)).toBe(true);
  });

  it('yield with power limits on nvidia-smi: the unit runs the sensors\' nvidia-smi, and at start puts back a limit an earlier run left lowered', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gance-pl-'));
    const stateFile = join(dir, 'limits.json');
    writeFileSync(stateFile, JSON.stringify({ limits: { '0': 110 } }));
    process.env.FAKE_NVIDIA_SMI_STATE = stateFile;
    process.env.FAKE_NVIDIA_SMI_ROOT = '1';
    // no nvidia-smi on PATH: only thermal.sensors.nvidiaSmiPath reaches the fake
    const withFakes = process.env.PATH;
    process.env.PATH = savedPath;
    try {
      const c = config({ source: 'nvidia-smi', nvidiaSmiPath: join(FIXTURES, 'nvidia-smi') });
      c.thermal.yield.powerLimit.enabled = true;
      const registry = createRegistry();
      const sub = await thermalSubsystem({ config: c, log: pino({ level: 'silent' }), registry, cooler: new SimulatedCooler(c.cooler), events: createEventBus(), services: new ServiceRegistry() });
      const y = sub.units.find((u) => u.name === 'thermal-yield')!;
      expect(y).toMatchObject({ dependsOn: ['thermal'] });
      await y.start();
      expect(JSON.parse(readFileSync(stateFile, 'utf8'))).toEqual({ limits: { '0': 149 } });
      expect(await registry.metrics()).toMatch(/^gance_gpu_power_limit_watts\{gpu="0"\} 149$/m);
      await y.stop();
    } finally {
      process.env.PATH = withFakes;
      delete process.env.FAKE_NVIDIA_SMI_STATE;
      delete process.env.FAKE_NVIDIA_SMI_ROOT;
    }
  });

  it('refuses simulated sensors with a real cooler, saying what to change', async () => {
    const c = config({ source: 'simulated' });
    const fake = Object.assign(new EventEmitter(), { info: { kind: 'serial' } }) as unknown as Cooler;
    expect(() => thermalSubsystem({ config: c, log: pino({ level: 'silent' }), registry: createRegistry(), cooler: fake, events: createEventBus(), services: new ServiceRegistry() })).toThrow(
      'thermal.sensors.source: "simulated" needs cooler.driver "simulated"',
    );
  });
});
