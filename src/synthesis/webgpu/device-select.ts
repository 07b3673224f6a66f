/**
 * Mesa's device-select layer falls back to its default GPU, silently, when MESA_VK_DEVICE_SELECT
 * or DRI_PRIME names a device that is not there (checked on lavapipe: a made-up id opens llvmpipe
 * anyway). On a two-GPU host that puts both workers on one GPU with nothing said. So before Dawn
 * opens anything, a worker whose environment picks a GPU this way asks the layer for its list (in
 * a child process: listing makes the layer end the process) and refuses to start when the GPU it
 * was bound to is not in it.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

export interface SelectableGpu {
  index: number;
  vendorId: number;
  deviceId: number;
  name: string;
  /** PCI address as 0000:41:00.0, when the driver reports one (lavapipe does not) */
  bus?: string;
}

/** Parses the layer's `MESA_VK_DEVICE_SELECT=list` output (`GPU 0: 10de:2335 "NAME" discrete GPU 0000:41:00.0`). */
export function parseSelectableList(text: string): SelectableGpu[] {
  const out: SelectableGpu[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*GPU (\d+): ([0-9a-f]+):([0-9a-f]+) "(.*)"(.*)$/i.exec(line);
    if (!m) continue;
    const bus = /([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-9a-f])\s*$/i.exec(m[5]!)?.[1];
    out.push({ index: Number(m[1]), vendorId: parseInt(m[2]!, 16), deviceId: parseInt(m[3]!, 16), name: m[4]!, ...(bus ? { bus: bus.toLowerCase() } : {}) });
  }
  return out;
}

/** The layer's list, as this process's Vulkan loader would see it. */
export function listSelectableGpus(env: NodeJS.ProcessEnv = process.env): { gpus: SelectableGpu[]; raw: string } {
  const webgpu = createRequire(import.meta.url).resolve('webgpu');
  const script = `require(${JSON.stringify(webgpu)}).create([]).requestAdapter().then(() => process.exit(0), () => process.exit(0))`;
  const r = spawnSync(process.execPath, ['-e', script], { env: { ...env, MESA_VK_DEVICE_SELECT: 'list' }, encoding: 'utf8', timeout: 30_000 });
  const raw = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  return { gpus: parseSelectableList(raw), raw };
}

/**
 * Undefined when the environment binds no GPU through the layer, or the GPU it names is there;
 * else why not, naming the variable, its value and what the layer offers.
 */
export function deviceSelectProblem(env: NodeJS.ProcessEnv, list: () => SelectableGpu[] = () => listSelectableGpus(env).gpus): string | undefined {
  const select = env.MESA_VK_DEVICE_SELECT;
  const prime = env.DRI_PRIME;
  const wantsId = select !== undefined && select !== 'list' && select !== '';
  const wantsBus = prime !== undefined && /^pci-/.test(prime);
  if (!wantsId && !wantsBus) return undefined;
  const gpus = list();
  const offered = gpus.length > 0 ? gpus.map((g) => `${g.vendorId.toString(16)}:${g.deviceId.toString(16)} "${g.name}"${g.bus ? ` ${g.bus}` : ''}`).join(', ') : 'none (is mesa-vulkan-drivers installed?)';
  if (wantsId) {
    const m = /^(?:0x)?([0-9a-f]+):(?:0x)?([0-9a-f]+)!?$/i.exec(select);
    if (!m) return `MESA_VK_DEVICE_SELECT="${select}" is not vendor:device in hex (the layer offers: ${offered})`;
    const [v, d] = [parseInt(m[1]!, 16), parseInt(m[2]!, 16)];
    if (!gpus.some((g) => g.vendorId === v && g.deviceId === d)) return `MESA_VK_DEVICE_SELECT="${select}" names no GPU here (the layer offers: ${offered}); refusing its silent fallback to the default GPU`;
  }
  if (wantsBus) {
    const m = /^pci-([0-9a-f]{4})_([0-9a-f]{2})_([0-9a-f]{2})_([0-9a-f])$/i.exec(prime);
    if (!m) return `DRI_PRIME="${prime}" is not pci-DDDD_BB_SS_F (the layer offers: ${offered})`;
    const bus = `${m[1]}:${m[2]}:${m[3]}.${m[4]}`.toLowerCase();
    if (!gpus.some((g) => g.bus === bus)) return `DRI_PRIME="${prime}" names no GPU here (the layer offers: ${offered}); refusing its silent fallback to the default GPU`;
  }
  return undefined;
}
