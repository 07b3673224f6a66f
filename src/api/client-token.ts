/**
 * The token a CLI command sends to a running daemon (`gance thermal set`, ...): GANCE_TOKEN, else
 * the file GANCE_TOKEN_FILE names, else /etc/gance/token (what `gance install` creates) when this
 * user can read it. None: no header, which a daemon on loopback without a token accepts.
 */
import { readFileSync } from 'node:fs';

export const DEFAULT_TOKEN_FILE = '/etc/gance/token';

export function clientAuthHeaders(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const direct = env.GANCE_TOKEN?.trim();
  if (direct) return { authorization: `Bearer ${direct}` };
  const named = env.GANCE_TOKEN_FILE || undefined; // set but empty: as if unset
  const file = named ?? DEFAULT_TOKEN_FILE;
  try {
    const token = readFileSync(file, 'utf8').trim();
    return token ? { authorization: `Bearer ${token}` } : {};
  } catch (err) {
    // a file named on purpose must be there; the default one is only a convenience
    if (named !== undefined) throw new Error(`GANCE_TOKEN_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    return {};
  }
}
