/**
 * What the daemon can tell about a render at the door, before it is queued: the networks can be
 * fed (their kind fits the latents settings and each other), the output size is within 4x of the
 * networks' picture, every audio file opens as audio, all at one sample rate, and the track they
 * make is not silent (src/audio/silence.ts). Without this a render that could only fail as
 * `bad-input` was answered 202 and failed a moment later; now it is a 422 naming the field.
 * The runner's preflight makes the same checks again (a file can change while a job waits).
 */
import { probeAudio } from '../audio/decode.ts';
import { AudioError } from '../audio/errors.ts';
import { audioPeak, SILENCE_LEVEL, silenceReason } from '../audio/silence.ts';
import type { LatentsConfig } from '../latents/config.ts';
import type { NetworkCatalogue } from '../synthesis/networks/catalogue.ts';
import { findNetwork, geometry, mergeLatents, renderNetwork, type RenderNetwork } from './resolve.ts';
import type { RenderSpec } from './spec.ts';
import { RequestError } from './submit.ts';
import { RenderFailure } from './types.ts';

/** `names`: how the client named each audio file (its path under the media root, or the upload's file name). */
export type AdmitRender = (spec: RenderSpec, names: { audio: readonly string[] }) => Promise<void>;

export interface AdmitOptions {
  catalogue: NetworkCatalogue;
  latents: LatentsConfig;
  ffprobe?: string;
  ffmpeg?: string;
}

function refusal(field: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (err instanceof RenderFailure && err.reason === 'bad-input') throw new RequestError(422, `${field}: ${err.message}`);
    throw err;
  }
}

/** An audio error's reason in the client's words: the daemon's own paths (uploads live in its state folder) are none of its business. */
function clientWords(err: AudioError, file: string, name: string): string {
  const own = err.file === undefined ? err.message : err.message.slice(err.file.length + 2);
  return own.split(file).join(name);
}

export function renderAdmission(opts: AdmitOptions): AdmitRender {
  return async (spec, names) => {
    const networks: RenderNetwork[] = [];
    spec.networks.forEach((ref, k) => refusal(`body/networks/${k}`, () => void networks.push(renderNetwork(ref, findNetwork(opts.catalogue, ref)))));
    refusal('body/latents', () => void mergeLatents(opts.latents, spec, networks));
    refusal('body/output/size', () => void geometry(spec.output, networks));
    let first: { name: string; rate: number } | null = null;
    for (const [k, file] of spec.audio.entries()) {
      const name = names.audio[k] ?? file;
      try {
        const { sampleRate } = await probeAudio(file, opts.ffprobe === undefined ? {} : { ffprobePath: opts.ffprobe });
        first ??= { name, rate: sampleRate };
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
    // the joined track is what the video reacts to: a silent intro before the music is fine
    let peak = 0;
    for (const [k, file] of spec.audio.entries()) {
      try {
        peak = Math.max(peak, await audioPeak(file, opts.ffmpeg === undefined ? {} : { ffmpegPath: opts.ffmpeg }));
      } catch (err) {
        if (!(err instanceof AudioError)) throw err;
        throw new RequestError(422, `body/audio/${k}: "${names.audio[k] ?? file}" is not usable audio (${clientWords(err, file, names.audio[k] ?? file)})`);
      }
      if (peak >= SILENCE_LEVEL) return;
    }
    const why = silenceReason(peak, spec.audio.length)!;
    const field = spec.audio.length === 1 ? 'body/audio/0' : 'body/audio';
    throw new RequestError(422, `${field}: audio is silent: ${spec.audio.map((f, k) => `"${names.audio[k] ?? f}"`).join(' + ')} ${why}`);
  };
}
