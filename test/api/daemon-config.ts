/** The embedded default for a whole daemon in a test: any free port, no inference workers, its folders in a temp dir. */
import { join } from 'node:path';
import { loadConfigFile } from '../../src/config/load.ts';
import { tempDir } from '../audio/wav.ts';

export function quietDaemonConfig(prefix: string): { root: string; config: ReturnType<typeof loadConfigFile> } {
  const root = tempDir(prefix);
  const config = loadConfigFile();
  config.server.port = 0;
  config.stateDir = join(root, 'state');
  config.synthesis.enabled = false;
  config.render.mediaRoot = join(root, 'media');
  config.render.outputRoot = join(root, 'out');
  return { root, config };
}
