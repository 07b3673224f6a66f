/**
 * The contract between a network's ONNX file and whoever runs it: NAME.json beside NAME.onnx.
 * One TypeBox definition gives the TS type, the validation and the API schema.
 *
 * Run-time contract (every network gance builds or imports):
 * - inputs are float32 whatever the graph's internal precision; outputs are uint8 `frames`
 *   (NHWC, RGB, 0..255, at `output.width` x `output.height`) and/or float32 `image` (NCHW, about
 *   -1..1, at `resolution`), in the order listed in `outputs`;
 * - `role: latent` is z [N, zDim] (mapping in the graph) or w [N, numWs, wDim] (synthesis only);
 *   `role: psi` is the truncation psi per sample [N] (1 = none, 0 = w_avg), present with z only;
 *   `role: noise` inputs [N, 1, res, res] exist only when `noise` is "input";
 * - the batch dimension is "N" unless `batch` is a number, in which case every run uses exactly it.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { readFileSync, statSync } from 'node:fs';

import { MAX_FRAME_SIDE, MAX_PSI, MAX_SEED } from './limits.ts';

export const SIDECAR_FORMAT = 'gance-stylegan2-onnx';
export const SIDECAR_VERSION = 1;

const Dim = Type.Union([Type.Integer({ minimum: 1 }), Type.String({ minLength: 1 })]);

export const TensorContract = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    role: Type.Union([Type.Literal('latent'), Type.Literal('psi'), Type.Literal('noise'), Type.Literal('frames'), Type.Literal('image')]),
    dtype: Type.Union([Type.Literal('float32'), Type.Literal('uint8')]),
    shape: Type.Array(Dim),
    layout: Type.Optional(Type.String()),
    /** For noise inputs: the stylegan2-ada layer it feeds, e.g. "synthesis.b8.conv0". */
    layer: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type TensorContract = Static<typeof TensorContract>;

export const NetworkSidecar = Type.Object(
  {
    format: Type.Literal(SIDECAR_FORMAT),
    version: Type.Literal(SIDECAR_VERSION),
    /** Network id (file stem). */
    name: Type.String({ minLength: 1 }),
    /** The ONNX file, relative to this sidecar. */
    onnx: Type.String({ minLength: 1 }),
    resolution: Type.Integer({ minimum: 4, maximum: 1024 }),
    numWs: Type.Integer({ minimum: 2 }),
    zDim: Type.Integer({ minimum: 1 }),
    wDim: Type.Integer({ minimum: 1 }),
    imgChannels: Type.Integer({ minimum: 1 }),
    /** Feature maps per block resolution, e.g. {"4": 512, ..., "1024": 32}. */
    channels: Type.Record(Type.String({ pattern: '^[0-9]+$' }), Type.Integer({ minimum: 1 })),
    mappingLayers: Type.Integer({ minimum: 1 }),
    mappingLrMultiplier: Type.Number({ exclusiveMinimum: 0 }),
    convClamp: Type.Union([Type.Number({ exclusiveMinimum: 0 }), Type.Null()]),
    /** Precision of weights and activations inside the graph (inputs/outputs are always as in `inputs`/`outputs`). */
    dtype: Type.Union([Type.Literal('float32'), Type.Literal('float16')]),
    /** The mapping network's running mean of w: truncation's centre, and what w-input callers truncate towards. */
    wAvg: Type.Array(Type.Number(), { minItems: 1 }),
    /** Truncation psi the network was meant to be used with (callers feed it through the psi input). */
    truncationPsi: Type.Number({ minimum: -MAX_PSI, maximum: MAX_PSI }),
    noise: Type.Union([Type.Literal('const'), Type.Literal('input'), Type.Literal('none')]),
    /** Fixed batch size of the graph, or null when any batch works. */
    batch: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
    /** Size of the `frames` output (differs from resolution when the graph resizes). */
    output: Type.Object(
      {
        width: Type.Integer({ minimum: 1, maximum: MAX_FRAME_SIDE }),
        height: Type.Integer({ minimum: 1, maximum: MAX_FRAME_SIDE }),
        resize: Type.Union([Type.Literal('none'), Type.Literal('linear'), Type.Literal('cubic'), Type.Literal('nearest')]),
      },
      { additionalProperties: false },
    ),
    inputs: Type.Array(TensorContract, { minItems: 1 }),
    outputs: Type.Array(TensorContract, { minItems: 1 }),
    /** "sha256:<hex>" of the weights file the network came from, or of the seed and shape for random ones. */
    sourceHash: Type.String({ pattern: '^sha256:[0-9a-f]{64}$' }),
    source: Type.Object(
      {
        kind: Type.Union([Type.Literal('random'), Type.Literal('safetensors'), Type.Literal('npz')]),
        file: Type.Optional(Type.String()),
        seed: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_SEED })),
      },
      { additionalProperties: false },
    ),
    /** How the graph was built (op choices); informative. */
    builder: Type.Object(
      {
        modulation: Type.String(),
        upsample: Type.String(),
        opset: Type.Integer(),
        parameters: Type.Integer({ minimum: 0 }),
        /**
         * Names of the small-vector nodes (mapping, styles, demod). Informative: forcing them onto
         * the CPU with WebGPU's forceCpuNodeNames was measured slower on an H100 (37 vs 47 img/s at
         * 1024 px fp16: the uploads wait for the GPU), so leave them where onnxruntime puts them.
         */
        hostNodes: Type.Array(Type.String()),
      },
      { additionalProperties: false },
    ),
    createdAt: Type.String(),
  },
  { additionalProperties: false },
);
export type NetworkSidecar = Static<typeof NetworkSidecar>;

export class SidecarError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'SidecarError';
  }
}

/** Validates a parsed sidecar; errors name the field (e.g. "outputs[0].dtype") and what was expected. */
export function parseSidecar(value: unknown, file = 'sidecar'): NetworkSidecar {
  if (Value.Check(NetworkSidecar, value)) {
    if (value.wAvg.length !== value.wDim) throw new SidecarError(file, `wAvg has ${value.wAvg.length} values, wDim is ${value.wDim}`);
    const problems = consistencyProblems(value);
    if (problems.length > 0) throw new SidecarError(file, problems.join('; '));
    return value;
  }
  const issues = [...Value.Errors(NetworkSidecar, value)].slice(0, 8).map((e) => {
    const path = e.path === '' ? '(root)' : e.path.slice(1).replace(/\//g, '.');
    return `${path}: ${e.message}`;
  });
  throw new SidecarError(file, `not a gance network sidecar: ${issues.join('; ')}`);
}

/**
 * What the fields say about each other. The ONNX file is checked against `inputs`/`outputs` only,
 * so `output` and `resolution` (what renders size their pictures by) must agree with those shapes,
 * or a render would be accepted and fail at its first frame. `onnx` is a name in the sidecar's own
 * folder: a path would let a sidecar load a model from outside the configured network folders.
 */
function consistencyProblems(s: NetworkSidecar): string[] {
  const problems: string[] = [];
  if (/[/\\]/.test(s.onnx) || s.onnx === '.' || s.onnx === '..') problems.push(`onnx: must be a file name in the sidecar's folder, got "${s.onnx}"`);
  const dims = (shape: TensorContract['shape']) => `[${shape.join(', ')}]`;
  s.inputs.forEach((t, i) => {
    if (t.role !== 'latent') return;
    const [a, b] = t.shape.slice(1);
    const z = t.shape.length === 2 && a === s.zDim;
    const w = t.shape.length === 3 && a === s.numWs && b === s.wDim;
    if (!z && !w) problems.push(`inputs[${i}].shape: ${dims(t.shape)} is neither z [batch, zDim ${s.zDim}] nor w [batch, numWs ${s.numWs}, wDim ${s.wDim}]`);
  });
  s.outputs.forEach((o, i) => {
    if (o.role === 'frames') {
      const want = [s.output.height, s.output.width, s.imgChannels];
      if (o.shape.length !== 4 || want.some((d, k) => o.shape[k + 1] !== d)) {
        problems.push(`outputs[${i}].shape: ${dims(o.shape)} does not match output ${s.output.width}x${s.output.height} with imgChannels ${s.imgChannels} (expected [batch, ${want.join(', ')}])`);
      }
    } else if (o.role === 'image') {
      const want = [s.imgChannels, s.resolution, s.resolution];
      if (o.shape.length !== 4 || want.some((d, k) => o.shape[k + 1] !== d)) {
        problems.push(`outputs[${i}].shape: ${dims(o.shape)} does not match resolution ${s.resolution} with imgChannels ${s.imgChannels} (expected [batch, ${want.join(', ')}])`);
      }
    }
  });
  return problems;
}

export function readSidecar(file: string): NetworkSidecar {
  let text: string;
  try {
    // a FIFO would block the read, and with it the daemon's event loop (the catalogue reads sidecars on it)
    if (!statSync(file).isFile()) throw new SidecarError(file, 'not a regular file');
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof SidecarError) throw err;
    throw new SidecarError(file, `cannot read: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new SidecarError(file, `not JSON: ${(err as Error).message}`);
  }
  return parseSidecar(parsed, file);
}

/** What an ONNX session reports about one of its inputs or outputs (onnxruntime's ValueMetadata, reduced). */
export interface SessionValue {
  name: string;
  type?: string;
  shape?: ReadonlyArray<number | string | null | undefined>;
}

/**
 * Checks that an ONNX model's declared inputs and outputs are the ones the sidecar promises
 * (names, dtypes, ranks, fixed sizes). Pass `session.inputMetadata` / `session.outputMetadata`.
 * Returns the problems, one line each; empty when they match.
 */
export function contractMismatches(
  sidecar: NetworkSidecar,
  inputs: readonly SessionValue[],
  outputs: readonly SessionValue[],
): string[] {
  const problems: string[] = [];
  const check = (kind: 'input' | 'output', want: readonly TensorContract[], have: readonly SessionValue[]) => {
    const byName = new Map(have.map((v) => [v.name, v]));
    for (const w of want) {
      const h = byName.get(w.name);
      if (!h) {
        problems.push(`${kind} '${w.name}' (${w.dtype} [${w.shape.join(', ')}]) is missing from the ONNX model; it has ${have.map((v) => `'${v.name}'`).join(', ') || 'none'}`);
        continue;
      }
      if (h.type !== undefined && h.type !== w.dtype) problems.push(`${kind} '${w.name}' is ${h.type} in the ONNX model, expected ${w.dtype}`);
      if (h.shape !== undefined) {
        if (h.shape.length !== w.shape.length) {
          problems.push(`${kind} '${w.name}' has rank ${h.shape.length} in the ONNX model, expected [${w.shape.join(', ')}]`);
        } else {
          w.shape.forEach((d, i) => {
            const hd = h.shape![i];
            if (typeof d === 'number' && typeof hd === 'number' && hd !== d) {
              problems.push(`${kind} '${w.name}' dimension ${i} is ${hd} in the ONNX model, expected ${d}`);
            }
          });
        }
      }
    }
    const extra = have.filter((v) => !want.some((w) => w.name === v.name));
    if (kind === 'input' && extra.length > 0) problems.push(`ONNX model has inputs the sidecar does not declare: ${extra.map((v) => `'${v.name}'`).join(', ')}`);
  };
  check('input', sidecar.inputs, inputs);
  check('output', sidecar.outputs, outputs);
  return problems;
}
