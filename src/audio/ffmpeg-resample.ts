/**
 * Fast, non-GANce-exact resampling through ffmpeg's own resampler (swr), for when speed matters more
 * than bit-equality with resampy (`latents.resampler: ffmpeg`). The output length is made equal to
 * resampy's, so frame counts, padding and everything after stay the same.
 */
import { spawn } from 'node:child_process';
import { AudioError } from './errors.ts';
import { lastLine } from './ffmpeg.ts';
import { resampledLength } from './resampy.ts';

export function ffmpegResampler(ffmpegPath = 'ffmpeg') {
  return (x: Float32Array, srOrig: number, srNew: number): Promise<Float32Array> =>
    new Promise((resolve, reject) => {
      const nOut = resampledLength(x.length, srOrig, srNew);
      if (!Number.isInteger(srOrig)) {
        reject(new AudioError('AUDIO_BAD_PARAMETER', `ffmpeg resampling needs an integer input rate, got ${srOrig}`));
        return;
      }
      const child = spawn(
        ffmpegPath,
        ['-nostdin', '-v', 'error', '-f', 'f32le', '-ar', String(srOrig), '-ac', '1', '-i', 'pipe:0', '-ar', String(Math.round(srNew)), '-f', 'f32le', '-c:a', 'pcm_f32le', 'pipe:1'],
        // its own process group, as runTool's (ffmpeg.ts): a Ctrl-C reaches the daemon alone
        { stdio: ['pipe', 'pipe', 'pipe'], detached: true },
      );
      const chunks: Buffer[] = [];
      let err = '';
      child.stdout.on('data', (c: Buffer) => chunks.push(c));
      child.stderr.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-4000)));
      child.on('error', (e: NodeJS.ErrnoException) => reject(new AudioError(e.code === 'ENOENT' ? 'AUDIO_FFMPEG_MISSING' : 'AUDIO_UNREADABLE', `cannot start ffmpeg: ${e.message}`)));
      child.stdin.on('error', () => undefined); // reported through the exit status
      child.on('close', (code) => {
        if (code !== 0) {
          reject(new AudioError('AUDIO_UNREADABLE', `ffmpeg resampling failed (${lastLine(err)})`));
          return;
        }
        const buf = Buffer.concat(chunks);
        const got = new Float32Array(buf.buffer, buf.byteOffset, Math.floor(buf.length / 4));
        const out = new Float32Array(nOut);
        out.set(got.subarray(0, nOut));
        resolve(out);
      });
      child.stdin.end(Buffer.from(x.buffer, x.byteOffset, x.byteLength));
    });
}
