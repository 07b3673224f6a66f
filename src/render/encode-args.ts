/**
 * The ffmpeg arguments of a render, in one place so the run config records exactly what ran.
 * Video: GANce's writer (libx264, crf 18, 2 B-frames, no edit list, +faststart on the final mux),
 * with a fixed thread count: x264's output depends on it, and a render must come out the same
 * on any machine and after a resume.
 */
import { availableParallelism } from 'node:os';
import type { RenderOutput } from './spec.ts';

export const ENCODER_THREADS = 4;
export const MAX_ENCODE_PARALLEL = 32;

/**
 * Segments encoded at once when the config leaves it to the machine: one per ENCODER_THREADS
 * cores (the threads of one x264), at least one, at most 8 (past that the segments in flight, not
 * the cores, bound the gain). Any number gives the same bits.
 */
export function encodeParallel(configured: number | null | undefined, cores = availableParallelism()): number {
  if (configured !== null && configured !== undefined) return configured;
  return Math.max(1, Math.min(8, Math.floor(cores / ENCODER_THREADS)));
}
export const MAX_UPSCALE = 4;

export interface Geometry {
  /** what the network hands over */
  width: number;
  height: number;
  /** what is written */
  outWidth: number;
  outHeight: number;
}

export interface EncodeSettings extends Geometry {
  format: RenderOutput['format'];
  fps: number;
  crf: number;
  preset: string;
  pixelFormat: RenderOutput['pixelFormat'];
  audioCodec: RenderOutput['audioCodec'];
  audioBitrate: number;
}

function input(s: EncodeSettings): string[] {
  return ['-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${s.width}x${s.height}`, '-framerate', String(s.fps), '-i', 'pipe:0'];
}

function scale(s: Geometry): string[] {
  return s.outWidth === s.width && s.outHeight === s.height ? [] : ['-vf', `scale=${s.outWidth}:${s.outHeight}:flags=bicubic`];
}

/** The video encode of one segment: raw rgb24 on stdin -> `target` (an mp4 file, or a folder of PNGs numbered from `firstFrame`). */
export function segmentArgs(s: EncodeSettings, target: string, firstFrame: number): string[] {
  if (s.format === 'png') return [...input(s), ...scale(s), '-c:v', 'png', '-pix_fmt', 'rgb24', '-start_number', String(firstFrame), '-f', 'image2', `${target}/%06d.png`];
  return [
    ...input(s),
    ...scale(s),
    ...['-c:v', 'libx264', '-preset', s.preset, '-crf', String(s.crf), '-bf', '2', '-pix_fmt', s.pixelFormat, '-threads', String(ENCODER_THREADS)],
    ...['-use_editlist', '0', '-f', 'mp4', target],
  ];
}

/**
 * Joins the segments (concat demuxer, video copied) and adds the audio files joined in order:
 * inputs 1..n are the audio files.
 */
export function muxArgs(s: EncodeSettings, list: string, audio: readonly string[], target: string): string[] {
  const inputs = audio.flatMap((a) => ['-i', a]);
  const joined =
    audio.length === 1
      ? ['-map', '1:a:0']
      : ['-filter_complex', `${audio.map((_, i) => `[${i + 1}:a:0]`).join('')}concat=n=${audio.length}:v=0:a=1[a]`, '-map', '[a]'];
  const codec = s.audioCodec === 'alac' ? ['-c:a', 'alac'] : ['-c:a', 'aac', '-b:a', `${s.audioBitrate}k`];
  return ['-f', 'concat', '-safe', '0', '-i', list, ...inputs, '-map', '0:v:0', ...joined, '-c:v', 'copy', ...codec, '-use_editlist', '0', '-movflags', '+faststart', '-f', 'mp4', target];
}

/** One still: one raw rgb24 picture on stdin -> one PNG file `target` (scaled as a render scales). */
export function stillArgs(g: Geometry, target: string): string[] {
  return ['-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${g.width}x${g.height}`, '-i', 'pipe:0', ...scale(g), '-frames:v', '1', '-c:v', 'png', '-pix_fmt', 'rgb24', '-update', '1', '-f', 'image2', target];
}
