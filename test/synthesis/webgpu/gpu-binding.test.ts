/**
 * A worker's `gpu` binds its WebGPU process, end to end on lavapipe (CI has Mesa's device-select
 * layer and lavapipe, which reports no PCI bus): the fake nvidia-smi gives GPU 0 the bus
 * 00000000:1E:00.0, the pool gives the worker DRI_PRIME=pci-0000_1e_00_0, and the worker's own
 * check of the layer's list refuses it instead of the layer's silent fallback to lavapipe. Both
 * refusals come before any network is compiled, so these are quick.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfigFile, resolveConfig } from '../../../src/config/load.ts';
import { createDaemon, type Daemon } from '../../../src/daemon.ts';
import { workerSpecs } from '../../../src/synthesis/config.ts';
import { BUNDLED_NETWORKS_DIR } from '../../../src/synthesis/networks/catalogue.ts';
import { NetworkLoadError, SynthesisPool, type PoolNetwork } from '../../../src/synthesis/pool/pool.ts';
import type { TensorType } from '../../../src/synthesis/pool/protocol.ts';
import { readSidecar } from '../../../src/synthesis/stylegan2/index.ts';
import type { ThermalView } from '../../../src/thermal/service/view.ts';
import { captureLog } from '../pool/helpers.ts';

const FAKE_SMI = fileURLToPath(new URL('../../../src/thermal/sim/fake-nvidia-smi.mjs', import.meta.url));
const base = {
  cooler: { driver: 'simulated', fans: [{ id: 'f0', channel: 0 }] },
  thermal: { sensors: { source: 'simulated' }, zones: [{ id: 'z0', gpus: [0], fans: ['f0'], mode: 'pid', pid: { setpoint: 75 } }] },
};

function demo(): PoolNetwork {
  const path = join(BUNDLED_NETWORKS_DIR, 'demo-64.onnx');
  const sc = readSidecar(path.replace(/\.onnx$/, '.json'));
  return { id: 'demo-64', path, inputs: sc.inputs.map((i) => ({ name: i.name, type: i.dtype as TensorType, dims: i.shape.slice(1) as number[] })), fetch: [], batch: sc.batch };
}

describe('a webgpu worker bound by its gpu on lavapipe', () => {
  it('fails its load with the device-select refusal naming the derived DRI_PRIME and what the layer offers', { timeout: 60_000 }, async () => {
    const config = resolveConfig({ ...base, synthesis: { workers: [{ id: 'gpu0', gpu: 0, engine: 'webgpu' }] } });
    const pool = new SynthesisPool({ workers: workerSpecs(config.synthesis, { nvidiaSmiPath: FAKE_SMI }), log: captureLog().log, warmupRuns: 0 });
    try {
      const err = await pool.load(demo()).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(NetworkLoadError);
      const e = err as NetworkLoadError;
      expect(e.failures.map((f) => f.worker)).toEqual(['gpu0']);
      expect(e.message).toMatch(/worker gpu0: no WebGPU adapter as bound: DRI_PRIME="pci-0000_1e_00_0" names no GPU here \(the layer offers: 10005:0 "llvmpipe[^"]*"\); refusing its silent fallback/);
    } finally {
      await pool.close();
    }
  });
});

describe('the daemon binds by gpu and shows the binding', () => {
  let daemon: Daemon | undefined;
  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
  });

  let lines: ReturnType<typeof captureLog>['lines'] = [];
  async function start(worker: Record<string, unknown>): Promise<Daemon> {
    const config = loadConfigFile();
    config.server.port = 0;
    config.stateDir = mkdtempSync(join(tmpdir(), 'gance-gpu-bind-'));
    config.thermal.sensors.nvidiaSmiPath = FAKE_SMI;
    config.synthesis.workers = [resolveConfig({ ...base, synthesis: { workers: [worker] } }).synthesis.workers[0]!];
    const captured = captureLog();
    lines = captured.lines;
    daemon = await createDaemon({ config, log: captured.log });
    await daemon.start();
    await daemon.services.get('networks').settled('demo-64');
    return daemon;
  }

  it('an onnx worker with providers [webgpu, cpu] gets its GPU\'s bus, refuses webgpu on it here, and GET /v1/networks shows the binding', { timeout: 90_000 }, async () => {
    const d = await start({ id: 'gpu0', gpu: 0, providers: ['webgpu', 'cpu'] });
    const res = await d.app.inject('/v1/networks');
    expect(res.statusCode).toBe(200);
    const net = (res.json() as { networks: Array<{ id: string; state: string; loaded: unknown[] }> }).networks.find((n) => n.id === 'demo-64')!;
    expect(net.state).toBe('loaded');
    expect(net.loaded).toEqual([
      expect.objectContaining({
        worker: 'gpu0',
        // the layer offers no GPU at that bus: webgpu is refused rather than opening lavapipe, and cpu takes over
        provider: 'cpu',
        isolation: 'process',
        binding: { source: 'gpu', gpu: 0, busId: '00000000:1E:00.0', env: { DRI_PRIME: 'pci-0000_1e_00_0', MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE: '1' } },
      }),
    ]);
    const fellBack = lines.find((l) => /fell back to cpu/.test(l.msg));
    expect(fellBack?.msg).toMatch(/webgpu unavailable \(no WebGPU adapter as bound: DRI_PRIME="pci-0000_1e_00_0" names no GPU here \(the layer offers: 10005:0 "llvmpipe/);
  });

  it('a gpu nvidia-smi does not list fails the network naming the field, and thermal runs on', { timeout: 60_000 }, async () => {
    const d = await start({ id: 'gpu3', gpu: 3, engine: 'webgpu' });
    const net = (d.services.get('networks').list().networks.find((n) => n.id === 'demo-64'))!;
    expect(net.state).toBe('failed');
    expect(net.error).toMatch(/worker gpu3: synthesis\.workers\[0\]\.gpu: 3 names no GPU here \(nvidia-smi lists 0 \(00000000:1E:00\.0\)\)/);
    // thermal gets ready on its first samples, whatever synthesis does; synthesis stays not ready
    while (d.supervisor.notReady().includes('thermal')) await new Promise((r) => setTimeout(r, 50));
    expect(d.supervisor.notReady()).toEqual(['synthesis']);
    const thermal = (await d.app.inject('/v1/thermal')).json() as ThermalView;
    expect(thermal.loop.alive).toBe(true);
    expect(thermal.failsafe).toBe(false);
  });
});
