/** gance_live_* series, one set per registry (the daemon's, or the CLI's own). */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export const LATENCY_STAGES = ['latents', 'queue', 'synthesis', 'encode'] as const;
export type LatencyStage = (typeof LATENCY_STAGES)[number];
/** where a sample-to-frame latency ends: the frame's publication, its MJPEG write, the page's paint */
export const LATENCY_ENDS = ['publish', 'mjpeg', 'paint'] as const;
export type LatencyEnd = (typeof LATENCY_ENDS)[number];

export function createLiveMetrics(registry: Registry) {
  const buckets = [0.005, 0.01, 0.02, 0.033, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2];
  return {
    sessions: new Gauge({ name: 'gance_live_sessions', help: 'Live sessions running', registers: [registry] }),
    fps: new Gauge({ name: 'gance_live_fps', help: 'Frames per second shown over the last 2 s, per session', labelNames: ['session'] as const, registers: [registry] }),
    frames: new Counter({ name: 'gance_live_frames_total', help: 'Frames shown (published to the outputs)', registers: [registry] }),
    dropped: new Counter({
      name: 'gance_live_dropped_frames_total',
      help: 'Frames dropped by the session, by cause (behind: synthesis full, a newer latent took its place; order: finished after a newer one; synthesis: failed; encode: the JPEG encoder was behind or failed; restart: the analysis restarted)',
      labelNames: ['cause'] as const,
      registers: [registry],
    }),
    clientDropped: new Counter({ name: 'gance_live_client_dropped_frames_total', help: 'Frames a client skipped because it was still receiving an earlier one, per output', labelNames: ['output'] as const, registers: [registry] }),
    clients: new Gauge({ name: 'gance_live_clients', help: 'Clients connected, per output (mjpeg: streams; ws: WebSocket connections, subscribed to frames or not)', labelNames: ['output'] as const, registers: [registry] }),
    refused: new Counter({ name: 'gance_live_clients_refused_total', help: 'Clients refused because their session had maxClients', registers: [registry] }),
    badMessages: new Counter({ name: 'gance_live_ws_bad_messages_total', help: 'WebSocket messages that were not a valid live message (answered with an error)', registers: [registry] }),
    stage: new Histogram({ name: 'gance_live_stage_seconds', help: 'Seconds per stage of a live frame (latents: audio arrival to latent; queue; synthesis; encode: JPEG)', labelNames: ['stage'] as const, buckets, registers: [registry] }),
    latency: new Histogram({
      name: 'gance_live_sample_to_frame_seconds',
      help: 'Seconds from the arrival of the newest audio a frame depends on to the frame being published, written to an MJPEG client, or painted by a projector page (as it reports)',
      labelNames: ['to'] as const,
      buckets,
      registers: [registry],
    }),
  };
}

export type LiveMetrics = ReturnType<typeof createLiveMetrics>;
