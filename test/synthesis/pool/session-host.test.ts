import { describe, expect, it } from 'vitest';
import { createSession, providerOption } from '../../../src/synthesis/pool/session-host.ts';
import { tinyNetworks } from './tiny-net.ts';

describe('worker sessions', () => {
  it('builds provider options: cuda with its device, webgpu with the nodes to keep on the host', () => {
    expect(providerOption({ name: 'cpu' }, ['m0'])).toBe('cpu');
    expect(providerOption({ name: 'cuda', deviceId: 2 })).toEqual({ name: 'cuda', deviceId: 2 });
    expect(providerOption({ name: 'webgpu' })).toEqual({ name: 'webgpu' });
    expect(providerOption({ name: 'webgpu', options: { preferredLayout: 'NHWC' } }, ['map0', 'style3'])).toEqual({
      name: 'webgpu',
      forceCpuNodeNames: ['map0', 'style3'],
      preferredLayout: 'NHWC',
    });
  });

  it('tries providers in order and reports why each one before the winner was skipped', async () => {
    const [net] = tinyNetworks([31]);
    // no Vulkan driver while the session is made (CI has lavapipe, which the WebGPU provider would take)
    const saved = { VK_DRIVER_FILES: process.env.VK_DRIVER_FILES, VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES };
    process.env.VK_DRIVER_FILES = process.env.VK_ICD_FILENAMES = '/nonexistent/none.json';
    let created;
    try {
      created = await createSession(net!.path, [{ name: 'cuda', deviceId: 0 }, { name: 'webgpu' }, { name: 'cpu' }], 1, ['n_reducemean']);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    const { session, provider, attempts } = created;
    expect(provider).toBe('cpu');
    expect(attempts.map((a) => a.provider)).toEqual(['cuda', 'webgpu']);
    expect(attempts[0]!.error).toMatch(/^CUDA provider libraries are not installed/);
    expect(attempts[1]!.error).toMatch(/WebGPU/);
    expect(session.inputNames).toEqual(['w']);
    await session.release();
  });
});
