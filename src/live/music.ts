/**
 * A live set playing a file knows its audio ahead: its loudness goes to thermal control as a
 * looped track (the 'music' event, thermal.music), as a render's does. Decoded once, off the
 * session's own path; a file that cannot be analysed only costs the music-aware cooling (logged).
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { decodeFiles } from '../audio/decode.ts';
import { frameRms } from '../audio/features/rms.ts';
import type { DaemonEventBus } from '../events.ts';
import { loudnessSchedule } from '../thermal/music/loudness.ts';

/** RMS frames per second for the schedule (any rate works: levels are per-second energy means) */
const FRAMES_PER_SECOND = 10;

export async function announceFileTrack(o: {
  events: DaemonEventBus;
  gpus: number[];
  source: string;
  path: string;
  loop: boolean;
  /** performance.now() when the file started playing */
  startedAtMs: number;
  ffmpeg?: string;
  log: Logger;
}): Promise<boolean> {
  try {
    const decoded = await decodeFiles([o.path], o.ffmpeg ? { ffmpegPath: o.ffmpeg } : {});
    const hop = Math.max(1, Math.round(decoded.sampleRate / FRAMES_PER_SECOND));
    const levelsDba = loudnessSchedule(frameRms(decoded.samples, hop, hop), decoded.sampleRate / hop);
    if (levelsDba.length === 0) return false;
    o.events.emit('music', { gpus: o.gpus, source: o.source, levelsDba, positionSeconds: (performance.now() - o.startedAtMs) / 1000, loop: o.loop });
    return true;
  } catch (err) {
    o.log.warn({ err, path: o.path }, `live ${o.source}: no loudness for music-aware cooling: ${(err as Error).message}`);
    return false;
  }
}
