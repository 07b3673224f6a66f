/**
 * `gance network build|import|list`: make ONNX generator networks and their sidecars.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { dirname, resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import { BUNDLED_NETWORKS_PATH } from '../config/paths.ts';
import type { BuildOptions, GeneratorShape } from '../synthesis/stylegan2/index.ts';
import { MAX_FRAME_SIDE, MAX_PSI, MAX_SEED } from '../synthesis/stylegan2/limits.ts';

// the graph builder loads only when a command runs (`--help` needs the definitions alone)
const stylegan2 = () => import('../synthesis/stylegan2/index.ts');

export const DUMP_SNIPPET = `
Dump a stylegan2-ada-pytorch network's weights in your own Python (with that repository's
dnnlib and torch_utils importable, and the safetensors package installed):

  import json, pickle, torch
  from safetensors.torch import save_file
  with open('network.pkl', 'rb') as f:
      G = pickle.load(f)['G_ema']
  sd = {k: v.detach().float().contiguous() for k, v in G.state_dict().items()}
  save_file(sd, 'network.safetensors', metadata={'init_kwargs': json.dumps(G.init_kwargs)})

(or numpy.savez('network.npz', **{k: v.cpu().numpy() for k, v in sd.items()}) and pass
--lr-multiplier/--conv-clamp if they differ from stylegan2-ada's 0.01 and 256). TF StyleGAN2
pickles load through stylegan2-ada-pytorch's legacy.load_network_pkl the same way.
`;

function positiveInt(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return n;
  };
}

function choice<T extends string>(name: string, values: readonly T[]) {
  return (v: string) => {
    if (!values.includes(v as T)) throw new InvalidArgumentError(`${name} must be one of ${values.join(', ')}`);
    return v as T;
  };
}

function parseResize(v: string): { width: number; height: number } {
  const m = /^(\d{1,5})x(\d{1,5})$/.exec(v);
  const [width, height] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
  if (!(width >= 1 && width <= MAX_FRAME_SIDE && height >= 1 && height <= MAX_FRAME_SIDE)) {
    throw new InvalidArgumentError(`--resize must be WIDTHxHEIGHT, each side 1..${MAX_FRAME_SIDE} pixels, e.g. 1920x1080, got "${v}"`);
  }
  return { width, height };
}

function parsePsi(v: string): number {
  const n = v.trim() === '' ? NaN : Number(v);
  if (!(n >= -MAX_PSI && n <= MAX_PSI)) throw new InvalidArgumentError(`--psi must be a number in -${MAX_PSI}..${MAX_PSI}, got "${v}"`);
  return n;
}

/** parseInt read 1e3 and 1.9 as 1 (seed 1's network) and let -1 wrap round */
function parseSeed(v: string): number {
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  if (!(n <= MAX_SEED)) throw new InvalidArgumentError(`--seed must be an integer in 0..${MAX_SEED}, got "${v}"`);
  return n;
}

// commander turns a parser's null into '', so "none" stays a string until the action maps it
function parseClamp(v: string): number | 'none' {
  if (v === 'none') return 'none';
  const n = Number(v);
  if (!(n > 0)) throw new InvalidArgumentError('--conv-clamp must be a positive number or "none"');
  return n;
}

interface BuildFlags {
  dtype: 'float32' | 'float16';
  input: 'z' | 'w';
  noise: 'const' | 'input' | 'none';
  outputs: string;
  resize?: { width: number; height: number };
  resizeMode: 'linear' | 'cubic' | 'nearest';
  modulation: 'activation' | 'weight';
  upsample: 'transpose' | 'subpixel' | 'fused';
  batch?: number;
  psi: number;
}

function addBuildFlags(cmd: Command): Command {
  return cmd
    .option('--dtype <dtype>', 'precision inside the graph: float32 | float16', choice('--dtype', ['float32', 'float16'] as const), 'float32')
    .option('--input <kind>', 'latent input: z (mapping in the graph) | w', choice('--input', ['z', 'w'] as const), 'z')
    .option('--noise <mode>', 'noise: const (the network\'s own) | input | none', choice('--noise', ['const', 'input', 'none'] as const), 'const')
    .option('--outputs <list>', 'comma list of frames (uint8 NHWC) and image (float32 NCHW)', 'frames,image')
    .option('--resize <WxH>', 'resize frames in the graph', parseResize)
    .option('--resize-mode <mode>', 'linear | cubic | nearest', choice('--resize-mode', ['linear', 'cubic', 'nearest'] as const), 'linear')
    .option('--modulation <how>', 'activation (any batch) | weight (fixed --batch)', choice('--modulation', ['activation', 'weight'] as const), 'activation')
    .option('--upsample <how>', 'transpose | subpixel | fused', choice('--upsample', ['transpose', 'subpixel', 'fused'] as const), 'transpose')
    .option('--batch <n>', 'fixed batch size (default: any)', positiveInt('--batch'))
    .option('--psi <psi>', `truncation psi recorded as the network's default, -${MAX_PSI}..${MAX_PSI}`, parsePsi, 1);
}

function buildOptions(f: BuildFlags): Partial<BuildOptions> {
  const outputs = f.outputs.split(',').map((s) => s.trim());
  for (const o of outputs) if (o !== 'frames' && o !== 'image') throw new InvalidArgumentError(`--outputs: unknown output '${o}' (frames, image)`);
  return {
    dtype: f.dtype,
    input: f.input,
    noise: f.noise,
    outputs: outputs as Array<'frames' | 'image'>,
    ...(f.resize ? { resize: { ...f.resize, mode: f.resizeMode } } : {}),
    modulation: f.modulation,
    upsample: f.upsample,
    batch: f.batch ?? (f.modulation === 'weight' ? 1 : null),
    truncationPsi: f.psi,
  };
}

/**
 * --out's folder is there: refused before the build (minutes for config-F), naming the option, as
 * render and live refuse theirs; the writer would otherwise create every missing folder.
 */
async function checkOutFolder(out: string): Promise<void> {
  const dir = dirname(resolve(out));
  const there = await stat(dir).catch(() => null);
  if (there === null) throw new Error(`--out ${out}: cannot write: folder ${dir} does not exist`);
  if (!there.isDirectory()) throw new Error(`--out ${out}: cannot write: ${dir} is not a folder`);
}

function summary(w: { onnxPath: string; sidecarPath: string; sidecar: { resolution: number; numWs: number; dtype: string; builder: { parameters: number }; sourceHash: string } }): string {
  const s = w.sidecar;
  return `wrote ${w.onnxPath} and ${w.sidecarPath}: ${s.resolution} px, ${s.numWs} ws, ${s.dtype}, ${(s.builder.parameters / 1e6).toFixed(2)} M parameters, ${s.sourceHash.slice(0, 19)}…\n`;
}

export function register(program: Command): void {
  const network = program.command('network').description('StyleGAN2 generator networks (ONNX + JSON sidecar)');

  addBuildFlags(
    network
      .command('build')
      .description('build a network with seeded random weights (tests, benchmarks, the demo network)')
      .requiredOption('--out <file.onnx>', 'output ONNX path (the sidecar goes next to it as .json)')
      .option('--preset <name>', 'demo (64 px, few channels) | config-f (stylegan2 config F)', choice('--preset', ['demo', 'config-f'] as const), 'demo')
      .option('--resolution <px>', 'output resolution, a power of two 4..1024', positiveInt('--resolution'))
      .option('--channel-base <n>', 'feature maps: min(base / res, max)', positiveInt('--channel-base'))
      .option('--channel-max <n>', 'feature maps cap', positiveInt('--channel-max'))
      .option('--w-dim <n>', 'w (and style) dimension', positiveInt('--w-dim'))
      .option('--seed <n>', `random seed, 0..${MAX_SEED}`, parseSeed, 1),
  ).action(async (opts: BuildFlags & { out: string; preset: 'demo' | 'config-f'; resolution?: number; channelBase?: number; channelMax?: number; wDim?: number; seed: number }) => {
    await checkOutFolder(opts.out);
    const { buildRandomNetwork, configF, demoShape } = await stylegan2();
    const base: GeneratorShape = opts.preset === 'demo' ? demoShape() : configF(opts.resolution ?? 1024);
    const shape: GeneratorShape = {
      ...base,
      ...(opts.resolution ? { resolution: opts.resolution } : {}),
      ...(opts.channelBase ? { channelBase: opts.channelBase } : {}),
      ...(opts.channelMax ? { channelMax: opts.channelMax } : {}),
      ...(opts.wDim ? { wDim: opts.wDim } : {}),
    };
    process.stdout.write(summary(buildRandomNetwork(shape, opts.seed, resolve(opts.out), buildOptions(opts))));
  });

  addBuildFlags(
    network
      .command('import')
      .description('import a stylegan2-ada-pytorch generator state dict (safetensors or .npz) as ONNX + sidecar')
      .argument('<weights>', 'weights file (.safetensors or .npz)')
      .requiredOption('--out <file.onnx>', 'output ONNX path (the sidecar goes next to it as .json)')
      .option('--lr-multiplier <x>', 'mapping learning-rate multiplier (default: from the file, else 0.01)', (v) => Number(v))
      .option('--conv-clamp <x|none>', 'activation clamp (default: from the file, else 256)', parseClamp)
      .addHelpText('after', DUMP_SNIPPET),
  ).action(async (weights: string, opts: BuildFlags & { out: string; lrMultiplier?: number; convClamp?: number | 'none' }) => {
    if (opts.lrMultiplier !== undefined && !(opts.lrMultiplier > 0)) throw new InvalidArgumentError('--lr-multiplier must be a positive number');
    await checkOutFolder(opts.out);
    const { importNetwork } = await stylegan2();
    const written = importNetwork(weights, resolve(opts.out), {
      ...buildOptions(opts),
      ...(opts.lrMultiplier !== undefined ? { mappingLrMultiplier: opts.lrMultiplier } : {}),
      ...(opts.convClamp !== undefined ? { convClamp: opts.convClamp === 'none' ? null : opts.convClamp } : {}),
    });
    process.stdout.write(summary(written));
  });

  network
    .command('list')
    .description('list the networks (NAME.onnx + NAME.json) in a folder, checked as the daemon checks them (exit 1 if any cannot be used)')
    .argument('[dir]', 'folder (default: the bundled networks)')
    .option('--json', 'print JSON')
    .action(async (named: string | undefined, opts: { json?: boolean }) => {
      // not ./config/networks: from any other folder that listed nothing, exit 0
      const dir = named ?? BUNDLED_NETWORKS_PATH;
      const kind = await stat(dir).then(
        (s) => (s.isDirectory() ? null : 'not a folder'),
        (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? 'no such folder' : `cannot read it (${e.code ?? 'error'})`),
      );
      if (kind !== null) throw new Error(`network list: ${dir}: ${kind}`);
      // the daemon's own checks (the sidecar, then the ONNX file's inputs and outputs against it),
      // so a network listed here as usable is one the daemon will offer
      const [{ NetworkCatalogue }, { default: pino }] = await Promise.all([import('../synthesis/networks/catalogue.ts'), import('pino')]);
      const nets = new NetworkCatalogue({ dirs: [dir], log: pino({ level: 'silent' }) }).scan();
      // a broken network exits 1, so the listing can gate a deployment
      if (nets.some((n) => n.error)) process.exitCode = 1;
      if (opts.json) {
        process.stdout.write(JSON.stringify(nets.map((n) => ({ id: n.id, onnx: n.onnxPath, error: n.error, ...(n.sidecar ? { resolution: n.sidecar.resolution, numWs: n.sidecar.numWs, dtype: n.sidecar.dtype, inputs: n.sidecar.inputs.map((i) => i.name), sourceHash: n.sidecar.sourceHash } : {}) })), null, 2) + '\n');
        return;
      }
      if (nets.length === 0) process.stdout.write(`no networks in ${dir}\n`);
      for (const n of nets) {
        if (n.error) process.stdout.write(`${n.id}\tERROR\t${n.error}\n`);
        else {
          const s = n.sidecar!;
          process.stdout.write(`${n.id}\t${s.resolution}px\t${s.dtype}\tinput ${s.inputs[0]!.name}\t${s.numWs} ws\t${s.source.kind}\t${s.sourceHash.slice(0, 19)}\n`);
        }
      }
    });
}
