import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeFile, decodeFiles, interleavedToMono, probeAudio } from '../../src/audio/decode.ts';
import { AudioError } from '../../src/audio/errors.ts';
import { dominantFrequency, interleave, tempDir, tone, writeWav } from './wav.ts';

const ganceMap = (x: number) => Math.fround((2 / 65535) * (x + 32768) - 1);

async function expectAudioError(p: Promise<unknown>, code: string, file: string): Promise<AudioError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AudioError);
  const ae = err as AudioError;
  expect(ae.code).toBe(code);
  expect(ae.file).toBe(file);
  expect(ae.message).toContain(file);
  return ae;
}

describe('decode', () => {
  let dir: string;
  let stereo: string;
  beforeAll(() => {
    dir = tempDir();
    stereo = join(dir, 'stereo.wav');
    writeWav(stereo, 44100, 2, interleave(tone(44100, 0.2, [440]), tone(44100, 0.2, [660], 0.2)));
  });

  it('maps 16-bit PCM like GANce (interp1d over the int16 range) and averages channels in float32', async () => {
    const l = tone(44100, 0.2, [440]);
    const r = tone(44100, 0.2, [660], 0.2);
    const d = await decodeFile(stereo);
    expect(d.sampleRate).toBe(44100);
    expect(d.samples.length).toBe(l.length);
    for (const i of [0, 1, 100, 5000, l.length - 1]) {
      expect(d.samples[i]).toBe(Math.fround(Math.fround(ganceMap(l[i]!) + ganceMap(r[i]!)) / 2));
    }
    // 0 is not exactly 0 under GANce's mapping: -1 + 32768 * 2/65535
    expect(ganceMap(0)).not.toBe(0);
  });

  it('maps full-scale clipping to exactly -1 and 1', async () => {
    const clip = new Int16Array(2000);
    for (let i = 0; i < clip.length; i++) clip[i] = i % 200 < 100 ? 32767 : -32768;
    const f = join(dir, 'clip.wav');
    writeWav(f, 48000, 1, clip);
    const d = await decodeFile(f);
    expect(d.samples[0]).toBe(1);
    expect(d.samples[150]).toBe(-1);
  });

  it('reads flac bit-exactly and mp3/ogg approximately (same tone)', async () => {
    const mono = join(dir, 'mono.wav');
    writeWav(mono, 44100, 1, tone(44100, 0.5, [1000]));
    const base = await decodeFile(mono);
    for (const [ext, codec] of [['flac', 'flac'], ['mp3', 'libmp3lame'], ['ogg', 'libvorbis']] as const) {
      const out = join(dir, `mono.${ext}`);
      try {
        execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', mono, '-c:a', codec, out]);
      } catch (err) {
        throw new Error(`ffmpeg cannot encode the ${ext} fixture (Debian's ffmpeg can): ${String(err)}`);
      }
      const d = await decodeFile(out);
      expect(d.sampleRate).toBe(44100);
      // only uncompressed PCM states its exact length up front
      expect((await probeAudio(out)).exactSamples).toBeNull();
      if (ext === 'flac') expect(Array.from(d.samples)).toEqual(Array.from(base.samples));
      else {
        expect(Math.abs(d.samples.length - base.samples.length)).toBeLessThan(5000);
        expect(dominantFrequency(d.samples.subarray(4000, 8000), 44100, [500, 1000, 2000])).toBe(1000);
      }
    }
  });

  it('resamples to a chosen rate with ffmpeg', async () => {
    const d = await decodeFile(stereo, { sampleRate: 22050 });
    expect(d.sampleRate).toBe(22050);
    expect(Math.abs(d.samples.length - 4410)).toBeLessThan(64);
  });

  it('concatenates files like repeated --wav and refuses a sample-rate mismatch naming the file', async () => {
    const a = join(dir, 'a.wav');
    const b = join(dir, 'b.wav');
    const c = join(dir, 'c48k.wav');
    writeWav(a, 44100, 1, tone(44100, 0.1, [300]));
    writeWav(b, 44100, 1, tone(44100, 0.05, [500]));
    writeWav(c, 48000, 1, tone(48000, 0.05, [500]));
    const ab = await decodeFiles([a, b]);
    expect(ab.samples.length).toBe(4410 + 2205);
    expect(ab.sources.map((s) => s.file)).toEqual([a, b]);
    const ae = await expectAudioError(decodeFiles([a, c]), 'AUDIO_RATE_MISMATCH', c);
    expect(ae.message).toMatch(/48000 Hz differs from 44100 Hz/);
  });

  it('refuses unreadable, missing, empty and zero-length input with the file named', async () => {
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'this is not audio\n');
    await expectAudioError(decodeFile(text), 'AUDIO_UNREADABLE', text);
    const missing = join(dir, 'missing.wav');
    await expectAudioError(decodeFile(missing), 'AUDIO_UNREADABLE', missing);
    const empty = join(dir, 'empty.wav');
    writeFileSync(empty, Buffer.alloc(0));
    await expectAudioError(decodeFile(empty), 'AUDIO_UNREADABLE', empty);
    const zero = join(dir, 'zero.wav');
    writeWav(zero, 44100, 2, new Int16Array(0));
    await expectAudioError(decodeFile(zero), 'AUDIO_EMPTY', zero);
    await expect(decodeFiles([])).rejects.toMatchObject({ code: 'AUDIO_BAD_PARAMETER' });
  });

  it('refuses NaN and Inf samples naming file and position', async () => {
    const f = join(dir, 'nan.wav');
    const data = new Float32Array(1000).fill(0.1);
    data[700] = NaN;
    writeWav(f, 44100, 1, data);
    const ae = await expectAudioError(decodeFile(f), 'AUDIO_NON_FINITE', f);
    expect(ae.message).toMatch(/sample 700/);
    const g = join(dir, 'inf.wav');
    const d2 = new Float32Array(1000).fill(0.1);
    d2[3] = Infinity;
    writeWav(g, 44100, 1, d2);
    await expectAudioError(decodeFile(g), 'AUDIO_NON_FINITE', g);
  });

  it('reads 16- and 32-bit PCM WAVs straight from the file with the samples ffmpeg gives', async () => {
    // the same integers in AIFF (big-endian PCM) go through ffmpeg
    for (const codec of ['pcm_s16le', 'pcm_s32le'] as const) {
      const wav = join(dir, `direct-${codec}.wav`);
      const aiff = join(dir, `direct-${codec}.aiff`);
      execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', stereo, '-c:a', codec, wav]);
      execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', wav, '-c:a', codec.replace('le', 'be'), aiff]);
      const direct = await decodeFile(wav);
      const viaFfmpeg = await decodeFile(aiff);
      expect((await probeAudio(aiff)).codec).toBe(codec.replace('le', 'be'));
      expect(direct.samples.length).toBe(viaFfmpeg.samples.length);
      expect(Buffer.compare(Buffer.from(direct.samples.buffer), Buffer.from(viaFfmpeg.samples.buffer))).toBe(0);
    }
    // a file that says RIFF/WAVE but is damaged goes to ffmpeg, which says why
    const broken = join(dir, 'broken.wav');
    writeFileSync(broken, Buffer.concat([readFileSync(stereo).subarray(0, 36), Buffer.from('garbage')]));
    await expectAudioError(decodeFile(broken), 'AUDIO_UNREADABLE', broken);
  });

  it('reads a long WAV a piece at a time, past odd-sized chunks before its data, onto shared memory', async () => {
    // 30 s of 16-bit stereo (5.3 MB: several pieces), with an odd-sized chunk between 'fmt ' and 'data'
    const seconds = 30;
    const pcm = interleave(tone(44100, seconds, [440, 1234], 0.4), tone(44100, seconds, [660], 0.3));
    const plain = join(dir, 'long-plain.wav');
    writeWav(plain, 44100, 2, pcm);
    const bytes = readFileSync(plain);
    const extra = Buffer.concat([Buffer.from('abcd', 'latin1'), Buffer.from([5, 0, 0, 0]), Buffer.from('12345'), Buffer.from([0])]);
    const withChunk = Buffer.concat([bytes.subarray(0, 36), extra, bytes.subarray(36)]);
    withChunk.writeUInt32LE(withChunk.length - 8, 4);
    const long = join(dir, 'long.wav');
    writeFileSync(long, withChunk);
    const aiff = join(dir, 'long.aiff');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', plain, '-c:a', 'pcm_s16be', aiff]);
    // no ffmpeg to fall back on: the file itself was read
    const direct = await decodeFile(long, { ffmpegPath: join(dir, 'no-ffmpeg-here') });
    const viaFfmpeg = await decodeFile(aiff);
    expect(direct.samples.length).toBe(seconds * 44100);
    expect(Buffer.compare(Buffer.from(direct.samples.buffer, 0, direct.samples.byteLength), Buffer.from(viaFfmpeg.samples.buffer, 0, viaFfmpeg.samples.byteLength))).toBe(0);
    // the analysis threads read the track where it lies
    expect(direct.samples.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(viaFfmpeg.samples.buffer).toBeInstanceOf(SharedArrayBuffer);
    // cut short inside a sample frame: the whole frames that are there
    const cut = join(dir, 'long-cut.wav');
    writeFileSync(cut, withChunk.subarray(0, withChunk.length - 4 * 1000 - 3));
    const short = await decodeFile(cut, { ffmpegPath: join(dir, 'no-ffmpeg-here') });
    expect(short.samples.length).toBe(seconds * 44100 - 1001);
    expect(Buffer.compare(Buffer.from(short.samples.buffer, 0, short.samples.byteLength), Buffer.from(direct.samples.buffer, 0, short.samples.byteLength))).toBe(0);
  });

  it("mixes 16-bit stereo as GANce does: scipy's interp1d line per sample, float32 mean (every sample value)", () => {
    const f32 = Math.fround;
    const level = (v: number) => f32(((1 - -1) / (32767 - -32768)) * (v - -32768) + -1);
    const n = 65536;
    const pcm = new Int16Array(2 * n);
    for (let i = 0; i < n; i++) {
      pcm[2 * i] = i - 32768;
      pcm[2 * i + 1] = ((i * 40503) % 65536) - 32768; // every value again, in another order
    }
    const mono = interleavedToMono(Buffer.from(pcm.buffer), 's16', 2);
    let wrong = 0;
    for (let i = 0; i < n; i++) if (mono[i] !== f32(f32(level(pcm[2 * i]!) + level(pcm[2 * i + 1]!)) / 2)) wrong++;
    expect(wrong).toBe(0);
    expect(mono[0]).toBe(f32((-1 + level(pcm[1]!)) / 2));
  });

  it('probes rate, channels and format', async () => {
    const p = await probeAudio(stereo);
    expect(p).toMatchObject({ sampleRate: 44100, channels: 2, codec: 'pcm_s16le', sampleFormat: 's16' });
    expect(p.exactSamples).toBe((await decodeFile(stereo)).samples.length);
  });
});
