/**
 * What a live session reads and writes. In the daemon (roots given) the API is confined as a
 * render is: audio and projection files under render.mediaRoot, file outputs under
 * render.outputRoot, streams only to the URL schemes an output knows (an ffmpeg `file:` URL
 * would write anywhere). Without roots (`gance live` in the operator's own process) any file
 * goes, but a file output's folder must be there and writable: a session must not run on without
 * ever recording. Errors name the field.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { RequestPathError, resolveMediaFile, resolveOutputPath, type OutputFolder } from '../render/media.ts';
import type { LiveStart } from './spec.ts';

export interface LiveRoots {
  media: string;
  output: string;
}

/** the stream URLs an output muxes for (record.ts) */
export const STREAM_SCHEMES = ['udp', 'srt', 'tcp', 'rtmp', 'rtmps'];
const schemeList = () => STREAM_SCHEMES.map((s) => `${s}://`).join(', ');

export function isUrl(target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(target);
}

/**
 * A file output's container by its extension (case aside). Any other is refused: ffmpeg would be
 * told some container anyway and `show.exe` would hold Matroska under a name that says otherwise.
 */
export const FILE_OUTPUT_FORMATS: Readonly<Record<string, readonly string[]>> = {
  '.mkv': ['-f', 'matroska'],
  '.ts': ['-f', 'mpegts'],
  // fragmented: readable even if cut short
  '.mp4': ['-f', 'mp4', '-movflags', '+frag_keyframe+empty_moov'],
};

/** A file output's ffmpeg format arguments, or null for an extension no output writes. */
export function fileOutputFormat(target: string): readonly string[] | null {
  const ext = extname(target).toLowerCase();
  return Object.hasOwn(FILE_OUTPUT_FORMATS, ext) ? FILE_OUTPUT_FORMATS[ext]! : null;
}

function checkExtension(target: string, field: string): void {
  if (fileOutputFormat(target) !== null) return;
  const ext = extname(target);
  throw new RequestPathError(400, field, `"${target}": ${ext === '' ? 'has no extension' : `the extension "${ext}" is not one an output writes`}; a file output is ${Object.keys(FILE_OUTPUT_FORMATS).join(', ')} (or a stream URL: ${schemeList()})`);
}


/**
 * A file output anywhere (no roots): its absolute path, once its folder is there and writable. A
 * URL must be one of the stream schemes an output muxes for (record.ts): any other went to ffmpeg
 * as Matroska (foo:// failing only once the session ran, file:// writing a file unchecked).
 */
export async function checkOutputFolder(target: string, field: string): Promise<string> {
  if (isUrl(target)) {
    if (!STREAM_SCHEMES.includes(target.slice(0, target.indexOf(':')).toLowerCase())) {
      throw new RequestPathError(400, field, `"${target}": a stream URL must be ${schemeList()} (a file output is a path: ${Object.keys(FILE_OUTPUT_FORMATS).join(', ')})`);
    }
    return target;
  }
  checkExtension(target, field);
  const path = resolve(target);
  const dir = dirname(path);
  const st = await stat(dir).catch(() => null);
  if (!st) throw new RequestPathError(422, field, `"${target}": folder ${dir} does not exist`);
  if (!st.isDirectory()) throw new RequestPathError(422, field, `"${target}": ${dir} is not a folder`);
  await access(dir, constants.W_OK).catch(() => {
    throw new RequestPathError(422, field, `"${target}": folder ${dir} is not writable`);
  });
  return path;
}

/** The spec with its paths checked and made absolute (under the roots when given). */
export async function resolveTargets(spec: LiveStart, roots: LiveRoots | undefined): Promise<LiveStart> {
  const out = { ...spec };
  if (roots && spec.audio.kind === 'file') out.audio = { ...spec.audio, path: await resolveMediaFile(roots.media, spec.audio.path, 'body/audio/path', { fifo: true }) };
  if (roots && spec.projectionFile !== undefined) out.projectionFile = await resolveMediaFile(roots.media, spec.projectionFile, 'body/projectionFile');
  if (spec.outputs) {
    const outputs: NonNullable<LiveStart['outputs']> = [];
    for (const [k, o] of spec.outputs.entries()) {
      const field = `body/outputs/${k}/target`;
      let target: string;
      if (!roots) target = await checkOutputFolder(o.target, field);
      else if (isUrl(o.target)) {
        const scheme = o.target.slice(0, o.target.indexOf(':')).toLowerCase();
        if (!STREAM_SCHEMES.includes(scheme)) throw new RequestPathError(400, field, `"${o.target}": a stream URL must be ${schemeList()}; files are names under the output root`);
        target = o.target;
      } else {
        checkExtension(o.target, field);
        target = await resolveOutputPath(roots.output, o.target, field);
      }
      outputs.push({ ...o, target });
    }
    out.outputs = outputs;
  }
  return out;
}

/** The file outputs of a spec resolved under the roots (`resolved`), for makeOutputFolders: each with its field and the client's name. */
export function fileOutputs(asSent: LiveStart, resolved: LiveStart): OutputFolder[] {
  return (resolved.outputs ?? []).flatMap((o, k) => (isUrl(o.target) ? [] : [{ path: o.target, field: `body/outputs/${k}/target`, name: asSent.outputs?.[k]?.target ?? o.target }]));
}
