import { EventEmitter } from 'node:events';

/**
 * Signals between subsystems that must not import each other. The render pipeline says a load is
 * coming (so thermal feed-forward can lead the step); thermal says when it is in failsafe.
 */
export interface DaemonEvents {
  /** a job or live session is about to load these GPUs with about this much power each */
  'load-hint': [hint: { gpus: number[]; watts: number; seconds: number; source: string; startsInSeconds?: number }];
  /**
   * a job or live session plays a track whose loudness is known ahead (thermal.music): per
   * second at the listener, dBA, and where it is now; 'load-end' from the same source ends it
   */
  music: [track: { gpus: number[]; source: string; levelsDba: number[]; positionSeconds: number; loop?: boolean }];
  /** where that track is now, s (a render's progress) */
  'music-position': [at: { source: string; positionSeconds: number }];
  /** the load announced by `source` has ended (a render finished, the last live session stopped) */
  'load-end': [end: { gpus: number[]; source: string }];
  /** thermal entered (true) or left (false) failsafe */
  failsafe: [state: { active: boolean; reasons: string[] }];
}

export type DaemonEventBus = EventEmitter<DaemonEvents>;

export function createEventBus(): DaemonEventBus {
  return new EventEmitter<DaemonEvents>();
}
