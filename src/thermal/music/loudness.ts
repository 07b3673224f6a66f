/**
 * A track's loudness schedule for the noise budget: one level per second at the listener, dBA.
 *
 * From the per-frame RMS the latents already compute (plan.rms, librosa's frame RMS at the video
 * fps): each second's energy mean in dB, shifted so the loudest second is `loudestDba` (issue 14:
 * 95 dBA). The RMS is unweighted, so this is a level relative to the track's own peak, not an
 * A-weighted measurement; a playback system is calibrated the same way (loudest passage to a level).
 */

/** levels below this are held here: digital silence would be -Infinity, which JSON cannot carry */
export const SILENCE_DBA = 0;

export function loudnessSchedule(rms: ArrayLike<number>, fps: number, loudestDba = 95): number[] {
  if (!(fps > 0) || !Number.isFinite(fps)) throw new Error(`loudnessSchedule: fps must be a positive number, got ${fps}`);
  const seconds = Math.ceil(rms.length / fps);
  const energy: number[] = [];
  for (let s = 0; s < seconds; s++) {
    const from = Math.floor(s * fps);
    const to = Math.min(rms.length, Math.floor((s + 1) * fps));
    let e = 0;
    for (let k = from; k < to; k++) e += rms[k]! * rms[k]!;
    energy.push(to > from ? e / (to - from) : 0);
  }
  const loudest = Math.max(0, ...energy);
  if (!(loudest > 0)) return energy.map(() => SILENCE_DBA);
  return energy.map((e) => (e > 0 ? Math.max(SILENCE_DBA, loudestDba + 10 * Math.log10(e / loudest)) : SILENCE_DBA));
}
