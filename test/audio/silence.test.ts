/** The loudest sample of a track through the real ffmpeg, and the level a silent track is refused at. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AudioError } from '../../src/audio/errors.ts';
import { audioPeak, joinedPeak, SILENCE_LEVEL, silenceReason } from '../../src/audio/silence.ts';
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
