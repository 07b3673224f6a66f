/**
 * The debug video (GANce's --debug-path): made after the render's frames, from the finished
 * output and the latents source, so the render itself is not slowed and a resumed render gets
 * a whole one. Each frame is the output's frame (scaled to the chart's height) beside the chart
 * of that frame (chart.ts), raw rgb24 into ffmpeg with the output as its other input, so both
 * videos have the same frames; the audio is the output's (copied) or, beside PNG frames, the
 * render's audio files. Written to `target` (the caller's temporary name).
 */
import type { LatentFrame } from '../../latents/frame.ts';
import { FfmpegInput } from '../ffmpeg.ts';
import type { RenderOutput } from '../spec.ts';
import { RenderFailure } from '../types.ts';
import { CHART_HEIGHT, CHART_WIDTH, ChartPainter, collectSeries, latentRow } from './chart.ts';

export const DEBUG_CRF = 23;
/** a chart compresses well at any preset; ultrafast encodes it about 4x faster than veryfast here */
export const DEBUG_PRESET = 'ultrafast';

export interface DebugVideoOptions {
  ffmpeg: string;
  frames: number;
  fps: number;
  networks: readonly string[];
  /** values in a latent's first row (z: the vector; w: wDim) */
  rowWidth: number;
  /** the latents from frame `from` on (read twice: the series, then each frame's vector) */
  latents: (from: number) => AsyncIterable<LatentFrame>;
  /** the finished output under its temporary name: an mp4, or a folder of PNGs numbered from 0 */
  main: { format: RenderOutput['format']; path: string };
  /** the render's audio files (used beside PNG frames, which have none) */
  audio: readonly string[];
  target: string;
  signal?: AbortSignal | undefined;
  onFrame?: () => void;
}

/** ffmpeg's arguments: input 0 the output's frames, input 1 the charts on stdin, then the audio. */
export function debugArgs(o: Pick<DebugVideoOptions, 'fps' | 'main' | 'audio' | 'target'>): string[] {
  const fps = String(o.fps);
  const main = o.main.format === 'mp4' ? ['-i', o.main.path] : ['-framerate', fps, '-start_number', '0', '-i', `${o.main.path}/%06d.png`];
  const charts = ['-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${CHART_WIDTH}x${CHART_HEIGHT}`, '-framerate', fps, '-i', 'pipe:0'];
  // the output's first frame is stamped a little after 0 (B-frames, no edit list): both start at 0, frame against frame;
  // area: a box average, the cheapest clean downscale of a 2160 px output (decoding and scaling it is most of the cost)
  const video = `[0:v:0]setpts=PTS-STARTPTS,scale=-2:${CHART_HEIGHT}:flags=area,format=yuv420p[m];[1:v:0]setpts=PTS-STARTPTS,format=yuv420p[c];[m][c]hstack=inputs=2:shortest=1[v]`;
  let audio: string[];
  let filter = video;
  let audioMap: string[];
  if (o.main.format === 'mp4') {
    audio = [];
    audioMap = ['-map', '0:a:0', '-c:a', 'copy'];
  } else {
    audio = o.audio.flatMap((a) => ['-i', a]);
    if (o.audio.length > 1) filter += `;${o.audio.map((_, i) => `[${i + 2}:a:0]`).join('')}concat=n=${o.audio.length}:v=0:a=1[a]`;
    audioMap = ['-map', o.audio.length > 1 ? '[a]' : '2:a:0', '-c:a', 'aac', '-b:a', '192k'];
  }
  return [
    ...main,
    ...charts,
    ...audio,
    ...['-filter_complex', filter, '-map', '[v]', ...audioMap],
    ...['-c:v', 'libx264', '-preset', DEBUG_PRESET, '-crf', String(DEBUG_CRF), '-pix_fmt', 'yuv420p'],
    ...['-movflags', '+faststart', '-f', 'mp4', o.target],
  ];
}

/** Writes the debug video to `o.target`. */
export async function writeDebugVideo(o: DebugVideoOptions): Promise<void> {
  const series = await collectSeries(o.latents(0), { frames: o.frames, fps: o.fps, networks: o.networks, rowWidth: o.rowWidth });
  const painter = new ChartPainter(series);
  const args = debugArgs(o);
  const enc = new FfmpegInput(o.ffmpeg, args, `writing the debug video ${o.target}`);
  const onAbort = () => void enc.kill();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  let finished = false;
  try {
    for await (const f of o.latents(0)) {
      if (o.signal?.aborted) break;
      // a copy: the pipe may hold on to a chunk after write() returns, and the painter reuses its picture
      await enc.write(painter.draw(f.index, latentRow(f, o.rowWidth)).slice());
      o.onFrame?.();
    }
    if (o.signal?.aborted) throw new RenderFailure('cancelled', 'cancelled while writing the debug video');
    await enc.finish();
    finished = true;
  } catch (err) {
    // the abort kills ffmpeg, so a write waiting on it fails as "killed by SIGKILL": a cancel still
    if (o.signal?.aborted && !(err instanceof RenderFailure && err.reason === 'cancelled')) {
      throw new RenderFailure('cancelled', 'cancelled while writing the debug video', { cause: err });
    }
    throw err;
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    if (!finished) await enc.kill();
  }
}
