import type { RichFeatures } from '../audio/features/rich.ts';

/** Per-frame audio features that travel with the latent (for overlays, metrics, other mappings). */
export interface FrameFeatures extends RichFeatures {
  /** GANce's smoothed RMS that picks the network. */
  smoothedRms: number;
}

/** One video frame's input for synthesis: z (through the mapping network) or w (num_ws x 512, straight to synthesis). */
export interface LatentFrame {
  index: number;
  network: number;
  z?: Float32Array;
  w?: Float32Array;
  features?: FrameFeatures;
  /** Live only: hrtime (ns) when the newest audio this frame depends on arrived. */
  audioReceivedAt?: bigint;
}
