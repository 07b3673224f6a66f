/** A job's error in the client's terms: each kind of daemon path, and what must stay as it is. */
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { publicError, publicPath, publicText } from '../../src/render/public-error.ts';
import type { Job } from '../../src/render/queue.ts';
import { spec, tempDir } from './job-helpers.ts';

describe('publicError', () => {
  const root = tempDir('gance-public-error-');
  const media = join(root, 'media');
  const out = join(root, 'out');
  mkdirSync(join(media, 'set'), { recursive: true });
  mkdirSync(out);
  symlinkSync(media, join(root, 'media-link'));
  const job = (over: Partial<Job> = {}) =>
    ({ id: 'j1', workDir: join(root, 'state', 'renders', 'j1'), uploadDir: null, spec: spec({ audio: [join(media, 'set', 'a.wav')], path: join(out, 'clips', 'x.mp4') }), ...over }) as Job;

  it('names files under the roots by their names there, and the folders themselves in words', () => {
    const roots = { mediaRoot: media, outputRoot: out };
    expect(publicError(`${join(media, 'set', 'a.wav')}: sample 3 is NaN`, job(), roots)).toBe('set/a.wav: sample 3 is NaN');
    expect(publicError(`not enough disk space in ${out}: 3 MB free`, job(), roots)).toBe('not enough disk space in the output root: 3 MB free');
    expect(publicError(`writing ${join(out, 'clips', '.x.mp4.tmp-1-ab')}: no space`, job(), roots)).toBe('writing clips/.x.mp4.tmp-1-ab: no space');
    expect(publicError(`work folder ${join(root, 'state', 'renders', 'j1')}: in use`, job(), roots)).toBe('work folder the work folder: in use');
    // a root named through a symlink: the spec's files are its real paths
    expect(publicError(`${join(media, 'set', 'a.wav')} is gone`, job(), { mediaRoot: join(root, 'media-link'), outputRoot: out })).toBe('set/a.wav is gone');
  });

  it('an upload by the file name the client sent; any other absolute path by its last part; URLs, ratios and words with slashes as they are', () => {
    const uploads = join(root, 'state', 'uploads', 'j2');
    const up = job({ uploadDir: uploads, spec: spec({ audio: [join(uploads, '00-take.wav'), join(uploads, '01-take.wav')] }) });
    const roots = { mediaRoot: media, outputRoot: out };
    expect(publicError(`${join(uploads, '01-take.wav')}: unreadable`, up, roots)).toBe('take.wav: unreadable');
    expect(publicError('ffmpeg (/usr/local/bin/ffmpeg) exited: "/opt/nets/face.onnx" missing', up, roots)).toBe('ffmpeg (ffmpeg) exited: "face.onnx" missing');
    const kept = 'fetch http://host:9/v1/x failed at 24/1 fps: Input/output error [out#0/mp4]';
    expect(publicError(kept, up, roots)).toBe(kept);
  });

  it('a path alone (the spec, the output): the upload name, the name under the output or media root (through a symlinked root too), else its last part', () => {
    const roots = { mediaRoot: join(root, 'media-link'), outputRoot: out };
    const uploads = join(root, 'state', 'uploads', 'j3');
    expect(publicPath(join(uploads, '03-take.wav'), { uploadDir: uploads }, roots)).toBe('take.wav');
    expect(publicPath(join(media, 'set', 'a.wav'), { uploadDir: null }, roots)).toBe('set/a.wav');
    expect(publicPath(join(out, 'clips', 'x.mp4'), { uploadDir: null }, roots)).toBe('clips/x.mp4');
    expect(publicPath('/opt/nets/face.onnx', { uploadDir: null }, roots)).toBe('face.onnx');
  });

  it('a message without a job (a live session): files under the roots by their names there, the roots in words', () => {
    const roots = { mediaRoot: media, outputRoot: out };
    expect(publicText(`audio: ${join(media, 'set', 'a.wav')}: Invalid data; output ${out} is full`, roots)).toBe('audio: set/a.wav: Invalid data; output the output root is full');
  });
});
