import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clientAuthHeaders } from '../../src/api/client-token.ts';

describe('the CLI side of the token', () => {
  it('GANCE_TOKEN, else GANCE_TOKEN_FILE (which must be readable), else nothing when the default file is absent', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gance-ct-')), 'token');
    writeFileSync(file, 'from-file-token\n');
    expect(clientAuthHeaders({ GANCE_TOKEN: ' direct ' })).toEqual({ authorization: 'Bearer direct' });
    expect(clientAuthHeaders({ GANCE_TOKEN_FILE: file })).toEqual({ authorization: 'Bearer from-file-token' });
    expect(() => clientAuthHeaders({ GANCE_TOKEN_FILE: `${file}.missing` })).toThrow(/^GANCE_TOKEN_FILE: cannot read .*missing \(ENOENT\)$/);
  });
});
