/**
 * The loudest sample of a track through the real ffmpeg, and the level a silent track is refused
 * at; checkSilence against the render's analysis itself (decode, GANce resampling, frame RMS).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AudioError } from '../../src/audio/errors.ts';
import { decodeFiles } from '../../src/audio/decode.ts';
import { frameRms } from '../../src/audio/features/rms.ts';
import { scaleForVideo } from '../../src/audio/gance-audio.ts';
import { audioPeak, checkSilence, joinedPeak, loudestFrame, scanPeak, SILENCE_LEVEL, silenceReason } from '../../src/audio/silence.ts';
import { interleave, tempDir, tone, writeWav } from './wav.ts';

describe('audioPeak', () => {
  const dir = tempDir('gance-silence-');

  it('is 0 for digital silence and the sample itself for a quiet float file', async () => {
    writeWav(join(dir, 'zeros.wav'), 22050, 1, new Int16Array(22050));
    expect(await audioPeak(join(dir, 'zeros.wav'))).toBe(0);
    writeWav(join(dir, 'quiet.wav'), 22050, 1, new Float32Array(1000).fill(2 ** -17));
    expect(await audioPeak(join(dir, 'quiet.wav'))).toBe(2 ** -17);
  });

  it('stops at the first sample at the level: a later, louder one is not read', async () => {
    const x = new Int16Array(44100);
    x[100] = 2; // 2^-14, above one step
    x[40000] = 30000;
    writeWav(join(dir, 'late.wav'), 44100, 1, x);
    expect(await audioPeak(join(dir, 'late.wav'))).toBe(2 ** -14);
    expect(await audioPeak(join(dir, 'late.wav'), { stopAt: Infinity })).toBeCloseTo(30000 / 32768, 6);
  });

  it('measures the channels mixed, as the analysis hears them: two channels in opposite phase are silent', async () => {
    const left = tone(22050, 0.5, [440]);
    writeWav(join(dir, 'opposite.wav'), 22050, 2, interleave(left, left.map((v) => -v)));
    expect(await audioPeak(join(dir, 'opposite.wav'))).toBe(0);
    writeWav(join(dir, 'same.wav'), 22050, 2, interleave(left, left));
    expect(await audioPeak(join(dir, 'same.wav'))).toBeGreaterThanOrEqual(SILENCE_LEVEL);
  });

  it('joined files are silent only when every one is; a file that is not audio is an AudioError naming it', async () => {
    expect(await joinedPeak([join(dir, 'zeros.wav'), join(dir, 'quiet.wav')])).toBe(2 ** -17);
    expect(await joinedPeak([join(dir, 'zeros.wav'), join(dir, 'same.wav')])).toBeGreaterThanOrEqual(SILENCE_LEVEL);
    writeFileSync(join(dir, 'text.wav'), 'not audio');
    const err = await audioPeak(join(dir, 'text.wav')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AudioError);
    expect((err as AudioError).message).toMatch(/text\.wav: ffmpeg could not decode it/);
  });

  it('says why in dBFS against -90.3 dBFS, and nothing for a track at the level', () => {
    expect(silenceReason(0, 1)).toBe('has only zero samples (below -90.3 dBFS, one 16-bit step): nothing for the video to react to');
    expect(silenceReason(2 ** -16, 2)).toBe('peak at -96.3 dBFS (below -90.3 dBFS, one 16-bit step): nothing for the video to react to');
    expect(silenceReason(SILENCE_LEVEL, 1)).toBeNull();
  });
});

/** The analysis's verdict: its loudest frame RMS (src/latents/offline.ts: decode, resample, frameRms). */
async function analysisLoudest(file: string, fps: number, vectorLength = 512): Promise<number> {
  const d = await decodeFiles([file]);
  const v = await scaleForVideo(d.samples, d.sampleRate, vectorLength, { fps });
  return frameRms(v.samples, vectorLength).reduce((a, b) => Math.max(a, b), 0);
}

describe('checkSilence', () => {
  const dir = tempDir('gance-sparse-');
  const RATE = 22050;
  const FPS = 24;
  const track = (name: string, at: number, what: (x: Float32Array, i: number) => void) => {
    const x = new Float32Array(RATE * 10);
    what(x, Math.round(at * RATE));
    writeWav(join(dir, name), RATE, 1, x);
    return { file: join(dir, name), sampleRate: RATE };
  };
  const zeros = track('zeros.wav', 0, () => {});
  // one faint click in ten seconds of silence: a peak at -66 dBFS, but no 1/24 s frame near -90 dBFS
  const click = track('click.wav', 5, (x, i) => (x[i] = 2 ** -11));
  const loudClick = track('loud-click.wav', 5, (x, i) => (x[i] = 0.5));
  // 20 ms of a -63 dBFS tone: little, but a frame's worth of sound
  const burst = track('burst.wav', 5, (x, i) => {
    for (let k = 0; k < 0.02 * RATE; k++) x[i + k] = 2 ** -10 * Math.sin((2 * Math.PI * 440 * k) / RATE);
  });

  it('refuses what the analysis would refuse as silent, a lone faint click included, and passes what it takes', { timeout: 120_000 }, async () => {
    for (const [t, refused] of [[zeros, true], [click, true], [loudClick, false], [burst, false]] as const) {
      const check = await checkSilence([t], { fps: FPS, vectorLength: 512 });
      expect({ file: t.file, refused: check.why !== null, complete: check.complete }).toEqual({ file: t.file, refused, complete: true });
      expect({ file: t.file, analysisRefuses: !((await analysisLoudest(t.file, FPS)) >= SILENCE_LEVEL) }).toEqual({ file: t.file, analysisRefuses: refused });
    }
    expect((await checkSilence([zeros], { fps: FPS, vectorLength: 512 })).why).toBe(silenceReason(0, 1));
    expect((await checkSilence([click], { fps: FPS, vectorLength: 512 })).why).toMatch(
      /^peaks at -66\.2 dBFS, but its loudest video frame \(1\/24 s\) is at -\d+\.\d dBFS RMS \(below -90\.3 dBFS, one 16-bit step\): too sparse for the video to react to$/,
    );
    // joined: the click's file after a silent one is still too sparse; a burst after it is not
    expect((await checkSilence([zeros, click], { fps: FPS, vectorLength: 512 })).why).toMatch(/^peak at -66\.2 dBFS, but their loudest video frame/);
    expect((await checkSilence([zeros, click, burst], { fps: FPS, vectorLength: 512 })).why).toBeNull();
  });

  it('reads at most maxSeconds of the track: a silent or sparse one longer than that is not complete, and ffmpeg stops there', async () => {
    expect((await scanPeak(zeros.file, { maxSeconds: 2 })).samples).toBe(2 * RATE);
    expect(await checkSilence([zeros], { fps: FPS, vectorLength: 512, maxSeconds: 2 })).toEqual({ why: null, complete: false });
    // across files: the budget is the joined track's
    expect(await checkSilence([zeros, zeros], { fps: FPS, vectorLength: 512, maxSeconds: 15 })).toEqual({ why: null, complete: false });
    expect(await checkSilence([zeros, zeros], { fps: FPS, vectorLength: 512, maxSeconds: 25 })).toEqual({ why: silenceReason(0, 2), complete: true });
    // the click is found at 5 s; its frames are read from 4 s, and 2 s of them is not the rest of the file
    expect(await checkSilence([click], { fps: FPS, vectorLength: 512, maxSeconds: 2 })).toEqual({ why: null, complete: false });
    expect((await checkSilence([click], { fps: FPS, vectorLength: 512, maxSeconds: 20 })).complete).toBe(true);
  });

  it('stops reading frames at the first loud one', async () => {
    const early = track('early.wav', 0.1, (x, i) => x.fill(0.25, i));
    const f = await loudestFrame(early.file, { fps: FPS, vectorLength: 512 });
    expect(f.rms).toBeGreaterThanOrEqual(SILENCE_LEVEL);
    expect(f.seconds).toBeLessThan(5); // of 10: the rest was never decoded
    expect((await loudestFrame(zeros.file, { fps: FPS, vectorLength: 512 })).seconds).toBeCloseTo(10, 1);
  });
});
