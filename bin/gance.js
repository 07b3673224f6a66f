#!/usr/bin/env node
// TypeScript runs directly through tsx: no build step between a git pull and a restart on the rig.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
await main();
