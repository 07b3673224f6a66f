/**
 * NAME.run.json beside every output: enough to render the same frames again (the full spec, the
 * resolved latents config, each network's id, files and hashes, the exact encoder arguments, the
 * ffmpeg and gance versions), and the fingerprint that decides whether a workDir's segments
 * belong to a render.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { segmentArgs, ENCODER_THREADS } from './encode-args.ts';
import { place, releaseTemp, TakenError, tempName } from './publish.ts';
import type { RenderNetwork, ResolvedRender } from './resolve.ts';
import type { SegmentPlan } from './segments.ts';
import type { SynthesisRecord } from './synthesis-record.ts';

export const { version: GANCE_VERSION } = createRequire(import.meta.url)('../../package.json') as { version: string };

/** `out.mp4` -> `out.run.json`; a PNG folder `frames` -> `frames.run.json`. */
export function runConfigPath(output: string): string {
  return output.endsWith('.mp4') ? `${output.slice(0, -'.mp4'.length)}.run.json` : `${output}.run.json`;
}

const hashes = new Map<string, { stamp: string; sha: string }>();

/** sha256 of a file, kept per path while its size and mtime stay (networks are big and rarely change). */
async function fileSha256(path: string): Promise<string> {
  const s = await stat(path);
  const stamp = `${s.size}:${s.mtimeMs}`;
  const known = hashes.get(path);
  if (known?.stamp === stamp) return known.sha;
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  const sha = `sha256:${h.digest('hex')}`;
  hashes.set(path, { stamp, sha });
  return sha;
}

/** A network as run configs record it: id, files, hashes, kind. */
export async function networkRecord(n: RenderNetwork) {
  return {
    id: n.id,
    onnx: n.entry.onnxPath,
    sidecar: n.entry.sidecarPath,
    sourceHash: n.sidecar.sourceHash,
    onnxSha256: await fileSha256(n.entry.onnxPath),
    sidecarSha256: `sha256:${createHash('sha256').update(await readFile(n.entry.sidecarPath)).digest('hex')}`,
    kind: n.kind,
  };
}

async function networkRecords(r: ResolvedRender) {
  return Promise.all(r.networks.map(networkRecord));
}

/**
 * What the segments' pixels depend on: the spec but its output path and priority, the latents
 * settings that change numbers, the networks' bytes, the audio files (path, size, mtime), the
 * encoder arguments and ffmpeg's version.
 *
 * Not what synthesized them (engine, provider, adapter, precision), though an f16 worker's pixels
 * differ from an f32 one's by a little: a pool of unlike workers (a GPU and a CPU fallback, say)
 * mixes them within one render anyway, frame by frame as the workers free up, so no fingerprint
 * of the pool could make a render's frames all of one kind; and a resume on another machine
 * would throw away hours of complete segments for differences at the level of rounding. Instead
 * the run config says what made which frames, the resumed segments' included, and `mixed` when
 * they are not all of one kind (synthesis-record.ts).
 */
export async function renderFingerprint(r: ResolvedRender, plan: SegmentPlan, ffmpegLine: string): Promise<string> {
  const { live: _live, streaming: _streaming, analysisThreads: _threads, ...latents } = r.latents;
  const audio = await Promise.all(
    r.spec.audio.map(async (a) => {
      const s = await stat(a);
      return [resolve(a), s.size, s.mtimeMs];
    }),
  );
  // where the output and the debug video go changes no frame of the segments
  const spec = { ...r.spec, priority: 0, output: { ...r.spec.output, path: '', debugPath: null } };
  const material = {
    spec,
    latents,
    psi: r.psi,
    networks: (await networkRecords(r)).map((n) => [n.id, n.onnxSha256, n.sidecarSha256]),
    audio,
    video: segmentArgs(r.encode, 'SEGMENT', 0),
    plan,
    ffmpegLine,
  };
  return `sha256:${createHash('sha256').update(JSON.stringify(material)).digest('hex')}`;
}

export async function writeRunConfig(
  path: string,
  o: {
    r: ResolvedRender;
    plan: SegmentPlan;
    ffmpegLine: string;
    muxArgs: string[];
    fingerprint: string;
    debug?: { path: string; args: string[] } | null;
    replace?: boolean;
    synthesis?: SynthesisRecord | null;
    beforePlace?: (tmp: string) => Promise<void>;
  },
): Promise<void> {
  const { r, plan } = o;
  const config = {
    gance: { version: GANCE_VERSION },
    createdAt: new Date().toISOString(),
    spec: r.spec,
    latents: r.latents,
    networks: await networkRecords(r),
    truncationPsi: r.psi,
    frames: plan.frames,
    fps: r.encode.fps,
    encode: {
      ...r.encode,
      threads: ENCODER_THREADS,
      segmentFrames: plan.segmentFrames,
      // SEGMENT stands for each segment's file (or folder of PNGs) in the work folder
      segmentArgs: segmentArgs(r.encode, 'SEGMENT', 0),
      muxArgs: o.muxArgs,
    },
    // args: as they read on the output and the debug video in place (they ran on their temporary names)
    debug: o.debug ?? null,
    ffmpeg: o.ffmpegLine,
    // what made the frames (synthesis-record.ts); outside the fingerprint (see renderFingerprint)
    synthesis: o.synthesis ?? null,
    fingerprint: o.fingerprint,
  };
  const tmp = tempName(path);
  try {
    await writeFile(tmp, `${JSON.stringify(config, null, 2)}\n`);
    await o.beforePlace?.(tmp);
    // a file put there while the render ran is someone's: not replaced (publish.ts)
    if (!(await place(tmp, path, { replace: o.replace ?? false, folder: false }))) throw new TakenError(path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  } finally {
    releaseTemp(tmp);
  }
}
