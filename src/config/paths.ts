/** Where the embedded default config lives; its own module so the CLI can show it without loading the schema. */
import { fileURLToPath } from 'node:url';

export const DEFAULT_CONFIG_PATH = fileURLToPath(new URL('../../config/default.yaml', import.meta.url));

/** The networks shipped with gance (the demo): `gance network list`'s folder when none is named, wherever it runs from. */
export const BUNDLED_NETWORKS_PATH = fileURLToPath(new URL('../../config/networks', import.meta.url));
