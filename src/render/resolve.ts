/**
 * From a spec to what the pipeline needs, checked before any work: the networks (catalogue entries,
 * their latent and psi inputs, their output size), the latents config (the render's overrides
 * merged over synthesis.latents, then fitted to the networks), and the output geometry. Every
 * refusal is a 'bad-input' RenderFailure naming the input and the reason.
 */
import { Value } from '@sinclair/typebox/value';
import { resolve as resolvePath } from 'node:path';
import { checkLatentsConfig, type LatentsConfig } from '../latents/config.ts';
import { LATENT_WIDTH } from '../latents/projection/format.ts';
import type { CatalogueEntry, NetworkCatalogue } from '../synthesis/networks/catalogue.ts';
import type { NetworkSidecar } from '../synthesis/stylegan2/sidecar.ts';
import { MAX_UPSCALE, type EncodeSettings } from './encode-args.ts';
import { runConfigPath } from './run-config.ts';
import { latentsRangeProblems, outputNameProblem, RenderSpec } from './spec.ts';
import { RenderFailure } from './types.ts';

export interface RenderNetwork {
  id: string;
  entry: CatalogueEntry;
  sidecar: NetworkSidecar;
  /** z: the graph maps z (with psi); w: it takes w rows straight to synthesis */
  kind: 'z' | 'w';
  latentInput: string;
  psiInput: string | null;
  /** the network's picture */
  width: number;
  height: number;
}

export interface ResolvedRender {
  spec: RenderSpec;
  networks: RenderNetwork[];
  kind: 'z' | 'w';
  latents: LatentsConfig;
  /** psi fed to z networks, per network (the spec's, else each sidecar's) */
  psi: number[];
  encode: EncodeSettings;
}

const bad = (message: string) => new RenderFailure('bad-input', message);

/** The spec as the schema has it (defaults filled in); a spec that does not pass names its first problems. */
export function checkSpec(raw: unknown): RenderSpec {
  const spec = Value.Default(RenderSpec, Value.Clone(raw)) as unknown;
  if (Value.Check(RenderSpec, spec)) {
    const reversed = latentsRangeProblems(spec.latents);
    if (reversed.length > 0) throw bad(`render spec: ${reversed.map((r) => `latents.${r.path.join('.')}: ${r.problem}`).join('; ')}`);
    return spec;
  }
  const issues = [...Value.Errors(RenderSpec, spec)].slice(0, 4).map((e) => `${e.path.slice(1).replace(/\//g, '.') || '(root)'}: ${e.message}`);
  throw bad(`render spec: ${issues.join('; ')}`);
}

/** A spec's network: a catalogue id, or (from the CLI) the path of an ONNX file in a catalogued folder. */
export function findNetwork(catalogue: NetworkCatalogue, ref: string): CatalogueEntry {
  const entries = catalogue.scan();
  const byId = catalogue.get(ref);
  const entry = byId ?? (ref.endsWith('.onnx') || ref.includes('/') ? entries.find((e) => resolvePath(e.onnxPath) === resolvePath(ref)) : undefined);
  if (!entry) {
    const known = entries.filter((e) => !e.error).map((e) => e.id);
    throw bad(`network "${ref}": no such network (known: ${known.join(', ') || 'none'})`);
  }
  if (entry.error || !entry.sidecar) throw bad(`network "${ref}": cannot be used: ${entry.error ?? 'no sidecar'}`);
  return entry;
}

export function renderNetwork(ref: string, entry: CatalogueEntry): RenderNetwork {
  const s = entry.sidecar!;
  const latent = s.inputs.filter((i) => i.role === 'latent');
  if (latent.length !== 1) throw bad(`network "${ref}": expected one latent input, its sidecar declares ${latent.length}`);
  const noise = s.inputs.find((i) => i.role === 'noise');
  if (noise) throw bad(`network "${ref}": takes noise inputs ("${noise.name}"); renders feed only latents (build it with constant noise)`);
  const input = latent[0]!;
  const dims = input.shape.slice(1);
  const kind = dims.length === 1 ? 'z' : 'w';
  if (kind === 'z' && dims[0] !== s.zDim) throw bad(`network "${ref}": latent input "${input.name}" [${input.shape.join(', ')}] does not match zDim ${s.zDim}`);
  if (kind === 'w' && (dims.length !== 2 || dims[0] !== s.numWs || dims[1] !== s.wDim)) {
    throw bad(`network "${ref}": latent input "${input.name}" [${input.shape.join(', ')}] is neither z [N, ${s.zDim}] nor w [N, ${s.numWs}, ${s.wDim}]`);
  }
  const psi = s.inputs.find((i) => i.role === 'psi');
  const frames = s.outputs.find((o) => o.role === 'frames');
  const image = s.outputs.find((o) => o.role === 'image');
  if (s.imgChannels !== 3) throw bad(`network "${ref}": makes ${s.imgChannels}-channel images; a render needs RGB`);
  const width = frames ? s.output.width : s.resolution;
  const height = frames ? s.output.height : s.resolution;
  if (!frames && !image) throw bad(`network "${ref}": has neither a frames nor an image output`);
  return { id: entry.id, entry, sidecar: s, kind, latentInput: input.name, psiInput: psi?.name ?? null, width, height };
}

/** Said when the mode is projection-file-blend and neither the render nor synthesis.latents gives the file. */
export const PROJECTION_MISSING = 'latents.projectionFile: is required when latents.mode is "projection-file-blend" (the GANce projection file whose w latents the audio blends); none was given';

/** The render's mode is projection-file-blend (its own or the daemon's) and no projection file comes with it, from it or from `base`. */
export function projectionMissing(base: LatentsConfig, latents: RenderSpec['latents']): boolean {
  const mode = latents.projectionFile !== undefined ? 'projection-file-blend' : (latents.mode ?? base.mode);
  return mode === 'projection-file-blend' && latents.projectionFile === undefined && base.projectionFile === null;
}

/** synthesis.latents with the render's overrides on top, fitted to the networks' latent size, checked. */
export function mergeLatents(base: LatentsConfig, spec: RenderSpec, networks: RenderNetwork[]): LatentsConfig {
  const o = spec.latents;
  const c = structuredClone(base);
  if (o.mode !== undefined) c.mode = o.mode;
  if (o.projectionFile !== undefined) {
    if (o.mode === 'noise-blend') throw bad(`projection file "${o.projectionFile}": goes with mode projection-file-blend, not noise-blend`);
    c.projectionFile = o.projectionFile;
    c.mode = 'projection-file-blend';
  }
  if (o.fps !== undefined) c.fps = o.fps;
  if (o.alpha !== undefined) c.alpha = o.alpha;
  if (o.fftRollEnabled !== undefined) c.fftRollEnabled = o.fftRollEnabled;
  if (o.fftAmplitudeRange !== undefined) c.fftAmplitudeRange = [o.fftAmplitudeRange[0], o.fftAmplitudeRange[1]];
  if (o.blendDepth !== undefined) c.blendDepth = o.blendDepth;
  if (o.resampler !== undefined) c.resampler = o.resampler;
  c.noise = { ...c.noise, ...o.noise };
  c.reactive = { ...c.reactive, ...o.reactive };

  const first = networks[0]!;
  const names = (k: 'z' | 'w') => networks.filter((n) => n.kind === k).map((n) => `"${n.id}"`).join(', ');
  if (networks.some((n) => n.kind !== first.kind)) throw bad(`networks: ${names('z')} take z and ${names('w')} take w; one render feeds one kind of latent`);
  if (c.mode === 'projection-file-blend') {
    if (c.projectionFile === null) throw bad(PROJECTION_MISSING);
    const where = `projection file "${c.projectionFile}"`;
    if (first.kind === 'z') throw bad(`${where}: a projection blend makes w latents, but network ${names('z')} takes z (input "${first.latentInput}" [${first.sidecar.zDim}]); use a network with a w input`);
    const bad1 = networks.find((n) => n.sidecar.wDim !== LATENT_WIDTH || n.sidecar.numWs !== first.sidecar.numWs);
    if (bad1) throw bad(`${where}: network "${bad1.id}" takes w [${bad1.sidecar.numWs}, ${bad1.sidecar.wDim}]; projection latents are ${LATENT_WIDTH} wide and all networks must share numWs`);
    c.numWs = first.sidecar.numWs;
  } else {
    if (first.kind === 'w') throw bad(`networks: ${names('w')} take w rows; noise-blend makes z latents (give a projection file, or use a z network)`);
    const other = networks.find((n) => n.sidecar.zDim !== first.sidecar.zDim);
    if (other) throw bad(`networks: "${other.id}" takes z of ${other.sidecar.zDim}, "${first.id}" of ${first.sidecar.zDim}`);
    // GANce: the latent length is the network's input length (also the audio samples per frame)
    c.vectorLength = first.sidecar.zDim;
  }
  const issues = checkLatentsConfig(c, (n) => `latents.${String(n)}`);
  if (issues.length > 0) throw bad(`latents: ${issues.join('; ')}`);
  return c;
}

/** The picture the networks make and the one written (`output.size`: the longer side, bicubic, at most 4x). */
export function geometry(output: Pick<RenderSpec['output'], 'size' | 'format'>, networks: RenderNetwork[]): Pick<EncodeSettings, 'width' | 'height' | 'outWidth' | 'outHeight'> {
  const first = networks[0]!;
  const other = networks.find((n) => n.width !== first.width || n.height !== first.height);
  if (other) throw bad(`networks: "${other.id}" makes ${other.width}x${other.height} pictures, "${first.id}" ${first.width}x${first.height}; one render needs one size`);
  const { width, height } = first;
  const size = output.size;
  if (size === null) {
    if (output.format === 'mp4' && (width % 2 !== 0 || height % 2 !== 0)) throw bad(`output size: network "${first.id}" makes ${width}x${height} pictures; x264 needs even sizes, so give an even size`);
    return { width, height, outWidth: width, outHeight: height };
  }
  if (!Number.isInteger(size) || size < 16 || size % 2 !== 0) throw bad(`output size ${size}: must be an even number of pixels, at least 16`);
  const side = Math.max(width, height);
  if (size > MAX_UPSCALE * side) throw bad(`output size ${size}: more than ${MAX_UPSCALE}x the network's ${side} px (at most ${MAX_UPSCALE * side})`);
  // the longer side gets `size`; the other keeps the aspect, rounded to even
  const outWidth = width >= height ? size : 2 * Math.round((size * width) / height / 2);
  const outHeight = height >= width ? size : 2 * Math.round((size * height) / width / 2);
  return { width, height, outWidth, outHeight };
}

export function resolveRender(rawSpec: unknown, catalogue: NetworkCatalogue, baseLatents: LatentsConfig): ResolvedRender {
  const spec = checkSpec(rawSpec);
  const misnamed = outputNameProblem(spec.output.format, spec.output.path);
  if (misnamed) throw bad(`output.path ${spec.output.path}: ${misnamed}`);
  const debug = spec.output.debugPath;
  const debugMisnamed = debug === null ? null : outputNameProblem('mp4', debug);
  if (debugMisnamed) throw bad(`output.debugPath ${debug}: ${debugMisnamed}`);
  if (debug !== null) {
    const d = resolvePath(debug);
    const out = resolvePath(spec.output.path);
    if (d === out || d === runConfigPath(out)) throw bad(`output.debugPath ${debug}: is the render's own ${d === out ? 'output' : 'run config'}; give the debug video a name of its own`);
  }
  const networks = spec.networks.map((ref) => renderNetwork(ref, findNetwork(catalogue, ref)));
  const latents = mergeLatents(baseLatents, spec, networks);
  const o = spec.output;
  return {
    spec,
    networks,
    kind: networks[0]!.kind,
    latents,
    psi: networks.map((n) => spec.truncationPsi ?? n.sidecar.truncationPsi),
    encode: {
      ...geometry(spec.output, networks),
      format: o.format,
      fps: latents.fps,
      crf: o.crf,
      preset: o.preset,
      pixelFormat: o.pixelFormat,
      audioCodec: o.audioCodec,
      audioBitrate: o.audioBitrate,
    },
  };
}
