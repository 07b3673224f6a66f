/**
 * What the daemon can tell about a render at the door, before it is queued: the networks can be
 * fed (their kind fits the latents settings and each other), the output size is within 4x of the
 * networks' picture, every audio file opens as audio, all at one sample rate, and the track they
 * make is not silent as the analysis judges it (src/audio/silence.ts: a loud enough sample, then a
 * loud enough video frame; at most ADMIT_SCAN_SECONDS of it here). Without this a render that could only fail as
 * `bad-input` was answered 202 and failed a moment later; now it is a 422 naming the field.
 * The runner's preflight makes the same checks again (a file can change while a job waits).
 */
import { probeAudio } from '../audio/decode.ts';
import { AudioError } from '../audio/errors.ts';
import { spectrogramFrames } from '../audio/features/spectrogram.ts';
import { analysisGrid, checkSilence } from '../audio/silence.ts';
import { ClientError } from '../api/errors.ts';
import type { LatentsConfig } from '../latents/config.ts';
import type { ProjectionFileReader } from '../latents/projection/reader.ts';
import type { NetworkCatalogue } from '../synthesis/networks/catalogue.ts';
import { findNetwork, geometry, mergeLatents, projectionMissing, renderNetwork, type RenderNetwork } from './resolve.ts';
import type { RenderSpec } from './spec.ts';
import { RequestError } from './submit.ts';
import { RenderFailure } from './types.ts';

/** `names`: how the client named each audio file (its path under the media root, or the upload's file name) and the projection file. */
export type AdmitRender = (spec: RenderSpec, names: { audio: readonly string[]; projectionFile?: string | undefined }) => Promise<void>;

export interface AdmitOptions {
  catalogue: NetworkCatalogue;
  latents: LatentsConfig;
  ffprobe?: string;
  ffmpeg?: string;
  /** seconds of the joined track the silence check reads at most (default ADMIT_SCAN_SECONDS) */
  scanSeconds?: number;
}

/**
 * The silence check reads at most this much of a track inside the request (each of its two
 * passes): proving a long track silent means decoding all of it, seconds of CPU per half hour
 * (more for compressed audio), while a track with sound answers within its first moments. A
 * longer track still silent here is queued, and the job's preflight reads the rest (the render
 * then fails as bad-input with the same reason).
 */
export const ADMIT_SCAN_SECONDS = 600;

/** `own`: the daemon's path of a file and the client's name for it (the message says the latter). */
function refusal(field: string, fn: () => void, own?: { path: string | undefined; name: string | undefined }): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof RenderFailure && err.reason === 'bad-input')) throw err;
    const message = own?.path !== undefined && own.name !== undefined ? err.message.split(own.path).join(own.name) : err.message;
    throw new RequestError(422, `${field}: ${message}`);
  }
}

/** An audio error's reason in the client's words: the daemon's own paths (uploads live in its state folder) are none of its business. */
function clientWords(err: AudioError, file: string, name: string): string {
  const own = err.file === undefined ? err.message : err.message.slice(err.file.length + 2);
  return own.split(file).join(name);
}

/** GANce's smoothing runs over 7 video frames (src/audio/features/spectrogram.ts): a shorter track fails in the analysis. */
const MIN_FRAMES = 7;

/**
 * A track plainly too short for the analysis (by the stated durations, null: unknown, not
 * judged). Judged with a frame of samples to spare, so a track the analysis could take is never
 * refused; one within that hair of the limit fails in the job's analysis as bad-input instead.
 */
function tooShort(spec: RenderSpec, names: { audio: readonly string[] }, latents: LatentsConfig, seconds: number | null): void {
  if (seconds === null) return;
  const { rate, frame } = analysisGrid(latents);
  if (spectrogramFrames(Math.ceil(seconds * rate) + frame, frame) >= MIN_FRAMES) return;
  const field = spec.audio.length === 1 ? 'body/audio/0' : 'body/audio';
  const what = spec.audio.map((f, k) => `"${names.audio[k] ?? f}"`).join(' + ');
  const need = (MIN_FRAMES / latents.fps).toFixed(3);
  throw new RequestError(422, `${field}: ${what} ${spec.audio.length === 1 ? 'is' : 'are'} ${seconds.toFixed(3)} s: too short for the analysis, which needs at least ${MIN_FRAMES} video frames (about ${need} s at ${latents.fps} fps)`);
}

/**
 * The projection file opens as a complete GANce projection for these networks (w rows, network
 * MD5 when configured) and paces a blend at the render's fps: an empty, damaged or misfit file
 * was answered 202 and failed in the job's analysis.
 */
async function checkProjection(latents: LatentsConfig, spec: RenderSpec, names: { projectionFile?: string | undefined }): Promise<void> {
  if (latents.mode !== 'projection-file-blend' || latents.projectionFile === null) return;
  const path = latents.projectionFile;
  const own = spec.latents.projectionFile !== undefined;
  const field = own ? 'body/latents/projectionFile' : 'latents.projectionFile (the daemon\'s synthesis.latents.projectionFile)';
  const name = own ? (names.projectionFile ?? path) : path;
  // h5wasm loads only for a projection render
  const [{ ProjectionFileReader: Reader }, { ProjectionError }, { LatentError }, { projectionFrames }] = await Promise.all([
    import('../latents/projection/reader.ts'),
    import('../latents/projection/errors.ts'),
    import('../latents/errors.ts'),
    import('../latents/fps-ratio.ts'),
  ]);
  let reader: ProjectionFileReader | undefined;
  try {
    reader = await Reader.open(path, { numWs: latents.numWs, ...(latents.projectionNetworkMd5 ? { networkMd5: latents.projectionNetworkMd5 } : {}) });
    projectionFrames(latents.fps, reader);
  } catch (err) {
    if (!(err instanceof ProjectionError || err instanceof LatentError)) throw err;
    const why = err.message.startsWith(`${path}: `) ? err.message.slice(path.length + 2) : err.message;
    throw new RequestError(422, `${field}: "${name}": ${why.split(path).join(name)}`);
  } finally {
    reader?.close();
  }
}

export function renderAdmission(opts: AdmitOptions): AdmitRender {
  return async (spec, names) => {
    const networks: RenderNetwork[] = [];
    spec.networks.forEach((ref, k) => refusal(`body/networks/${k}`, () => void networks.push(renderNetwork(ref, findNetwork(opts.catalogue, ref)))));
    let latents = opts.latents;
    if (projectionMissing(opts.latents, spec.latents)) {
      throw new RequestError(400, 'body/latents/projectionFile: is required when latents.mode is "projection-file-blend" (a GANce projection file under the media root whose w latents the audio blends); none was given');
    }
    refusal('body/latents', () => void (latents = mergeLatents(opts.latents, spec, networks)), { path: spec.latents.projectionFile, name: names.projectionFile });
    refusal('body/output/size', () => void geometry(spec.output, networks));
    await checkProjection(latents, spec, names);
    let first: { name: string; rate: number } | null = null;
    let seconds: number | null = 0;
    for (const [k, file] of spec.audio.entries()) {
      const name = names.audio[k] ?? file;
      try {
        const { sampleRate, duration } = await probeAudio(file, opts.ffprobe === undefined ? {} : { ffprobePath: opts.ffprobe });
        first ??= { name, rate: sampleRate };
        seconds = seconds === null || duration === null ? null : seconds + duration;
        // the analysis joins the samples as they are (GANce resamples the joined track, not each file)
        if (sampleRate !== first.rate) {
          throw new RequestError(422, `body/audio/${k}: "${name}" is ${sampleRate} Hz, "${first.name}" ${first.rate} Hz: files joined in one render must share one sample rate`);
        }
      } catch (err) {
        if (!(err instanceof AudioError)) throw err;
        const why = clientWords(err, file, name);
        throw new RequestError(422, `body/audio/${k}: "${name}" is not usable audio (${why})`);
      }
    }
    tooShort(spec, names, latents, seconds);
    // the joined track is what the video reacts to: a silent intro before the music is fine
    // one rate for all of them (checked above)
    const rates = spec.audio.map((file) => ({ file, sampleRate: first!.rate }));
    let check;
    try {
      check = await checkSilence(rates, { fps: latents.fps, vectorLength: latents.vectorLength, maxSeconds: opts.scanSeconds ?? ADMIT_SCAN_SECONDS, ...(opts.ffmpeg === undefined ? {} : { ffmpegPath: opts.ffmpeg }) });
    } catch (err) {
      if (!(err instanceof AudioError)) throw err;
      const k = Math.max(0, spec.audio.findIndex((f) => f === err.file));
      const file = spec.audio[k]!;
      throw new RequestError(422, `body/audio/${k}: "${names.audio[k] ?? file}" is not usable audio (${clientWords(err, file, names.audio[k] ?? file)})`);
    }
    if (check.why === null) return;
    const field = spec.audio.length === 1 ? 'body/audio/0' : 'body/audio';
    throw new RequestError(422, `${field}: audio is silent: ${spec.audio.map((f, k) => `"${names.audio[k] ?? f}"`).join(' + ')} ${check.why}`);
  };
}

/** 429: more renders are being checked at the door than the daemon takes at once. */
export class AdmissionBusyError extends ClientError {
  override readonly name = 'AdmissionBusyError';
  override readonly headers = { 'retry-after': '5' };
  constructor(message: string) {
    super(429, message);
  }
}

/**
 * Renders checked at once, and waiting for a check, by default (see limitAdmission). The line is
 * short: a request waiting sends nothing, and past server.idleTimeoutMs (60 s) the server drops it
 * without an answer; four checks' time each is far less than that.
 */
export const ADMIT_AT_ONCE = 4;
export const ADMIT_WAITING = 16;

/**
 * `admit` run for at most `atOnce` requests at a time, `waiting` more queued for a turn, and any
 * beyond that refused at once with 429 (Retry-After). Each check runs ffprobe and ffmpeg (up to
 * ADMIT_SCAN_SECONDS of decoding, twice): unbounded, a burst of submissions ran one pair per request
 * (40 at once: 41 processes and 170 descriptors, with `server.maxConnections` at half of the
 * descriptor limit), enough to take the descriptors and the CPU that nvidia-smi, the cooler link
 * and the live sessions need.
 */
export function limitAdmission(admit: AdmitRender, opts: { atOnce?: number; waiting?: number } = {}): AdmitRender & { running(): number; waiting(): number } {
  const atOnce = opts.atOnce ?? ADMIT_AT_ONCE;
  const maxWaiting = opts.waiting ?? ADMIT_WAITING;
  let running = 0;
  const queue: Array<() => void> = [];
  const limited = async (spec: RenderSpec, names: Parameters<AdmitRender>[1]): Promise<void> => {
    if (running >= atOnce) {
      if (queue.length >= maxWaiting) {
        throw new AdmissionBusyError(`body: ${running + queue.length} renders are being checked before they are queued (at most ${atOnce} at once and ${maxWaiting} waiting); send it again in a moment`);
      }
      // the slot is handed over by the check that ends (running stays counted)
      await new Promise<void>((resolve) => queue.push(resolve));
    } else {
      running++;
    }
    try {
      await admit(spec, names);
    } finally {
      const next = queue.shift();
      if (next) next();
      else running--;
    }
  };
  return Object.assign(limited, { running: () => running, waiting: () => queue.length });
}
