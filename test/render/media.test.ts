/** Output folders under the output root: checked without making anything, made once a request is accepted, undone when that fails. */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeOutputFolders, resolveOutputPath } from '../../src/render/media.ts';
import { tempDir } from './job-helpers.ts';

describe('makeOutputFolders', () => {
  it('makes an output root given relative (as the default ./renders is) with the folders, and undoes exactly what it made when one output fails', async () => {
    const tmp = tempDir('gance-media-');
    mkdirSync(join(tmp, 'kept'));
    // an empty folder that was there before: never this request's to remove
    mkdirSync(join(tmp, 'empty'));
    // relative to the daemon's folder, and not there yet: nothing made by the check
    const root = relative(process.cwd(), join(tmp, 'empty', 'new', 'out'));
    const ok = await resolveOutputPath(root, 'x/y.mp4', 'body/output/path');
    expect(ok).toBe(join(tmp, 'empty', 'new', 'out', 'x', 'y.mp4'));
    expect(readdirSync(join(tmp, 'empty'))).toEqual([]);
    // the second has moved outside the root since it was checked: refused, and the first one's folders, the root with them, are undone
    const outside = { path: join(tmp, 'kept', 'z.mp4'), field: 'body/output/debugPath', name: 'z.mp4' };
    expect(() => makeOutputFolders(root, [{ path: ok, field: 'body/output/path', name: 'x/y.mp4' }, outside])).toThrow(/^body\/output\/debugPath: "z\.mp4" leads outside the output root/);
    expect(readdirSync(tmp).sort()).toEqual(['empty', 'kept']);
    expect(readdirSync(join(tmp, 'empty'))).toEqual([]);
    makeOutputFolders(root, [{ path: ok, field: 'body/output/path', name: 'x/y.mp4' }]);
    expect(existsSync(join(tmp, 'empty', 'new', 'out', 'x'))).toBe(true);
  });
});
