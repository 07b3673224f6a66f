import { checkSynthesisConfig } from '../synthesis/config.ts';
import { ambientThermistorIssues, reservedIdIssue, thermalIssues } from '../thermal/rules.ts';
import type { Config } from './schema.ts';
import { isLoopbackHost } from '../api/hosts.ts';

/** Off loopback every write needs a token; it must exist before anything starts. */
function authIssues(server: Config['server']): string[] {
  const { auth, host } = server;
  const issues: string[] = [];
  const hasToken = auth.token !== undefined || auth.tokenFile !== undefined;
  if (auth.token !== undefined && auth.tokenFile !== undefined) issues.push('server.auth: set token or tokenFile, not both');
  // as tokenFile's: HTTP trims a header value and the CLI trims GANCE_TOKEN, so a token with spaces
  // around it was one no Authorization header could ever match (the token itself is never printed)
  if (auth.token !== undefined && /\s/.test(auth.token)) issues.push('server.auth.token: must be one word (no whitespace in it or around it)');
  if (!hasToken && !isLoopbackHost(host)) {
    issues.push(
      `server.auth.tokenFile: required when server.host is ${host} (not loopback): anyone on the network could change the fans; ` +
        'create one (openssl rand -hex 32 > /etc/gance/token; chmod 0640) and set server.auth.tokenFile, or listen on 127.0.0.1',
    );
  }
  for (const field of ['read', 'metrics'] as const) {
    if (auth[field] === 'token' && !hasToken) issues.push(`server.auth.${field}: "token" needs server.auth.token or server.auth.tokenFile`);
  }
  return issues;
}

/** Rules a schema cannot say: references between sections (here) and each section's own rules. One line per issue. */
export function crossCheck(config: Config): string[] {
  const issues: string[] = authIssues(config.server);
  const fanIds = new Set<string>();
  const channels = new Map<number, string>();
  config.cooler.fans.forEach((fan, i) => {
    const reserved = reservedIdIssue(`cooler.fans[${i}].id`, fan.id);
    if (reserved) issues.push(reserved);
    if (fanIds.has(fan.id)) issues.push(`cooler.fans[${i}].id: duplicate fan id "${fan.id}"`);
    fanIds.add(fan.id);
    const other = channels.get(fan.channel);
    if (other !== undefined) issues.push(`cooler.fans[${i}].channel: channel ${fan.channel} already used by fan "${other}"`);
    channels.set(fan.channel, fan.id);
    if (fan.startDuty < fan.minDuty) issues.push(`cooler.fans[${i}].startDuty: must be >= minDuty (${fan.minDuty})`);
  });
  const thermistorIds = new Set<string>();
  config.cooler.thermistors.forEach((t, i) => {
    const reserved = reservedIdIssue(`cooler.thermistors[${i}].id`, t.id);
    if (reserved) issues.push(reserved);
    if (thermistorIds.has(t.id)) issues.push(`cooler.thermistors[${i}].id: duplicate thermistor id "${t.id}"`);
    thermistorIds.add(t.id);
  });
  if (config.cooler.driver !== 'simulated' && !config.cooler.path) {
    issues.push(`cooler.path: is required when cooler.driver is "${config.cooler.driver}"`);
  }
  // The simulated GPUs are heated and cooled by the simulated fans: with a real cooler they would
  // read temperatures no fan could change. The daemon refused this only when it started, after
  // `gance config check` had passed it; "simulated" is the default, so a rig config that leaves
  // sensors out lands here.
  if (config.thermal.sensors.source === 'simulated' && config.cooler.driver !== 'simulated') {
    issues.push(
      `thermal.sensors.source: "simulated" (the default) needs cooler.driver "simulated", got cooler.driver "${config.cooler.driver}": ` +
        'set thermal.sensors.source: nvidia-smi to read the real GPUs, or cooler.driver: simulated to run without hardware',
    );
  }

  // The device goes to its own failsafe after watchdogSeconds without a command, and the loop sends
  // one per tick: a period near it (10 s against 3 s) left the fans at the device's full between
  // ticks while the API showed the duty commanded. Half leaves one late tick. StandardFirmata has none.
  const watchdogMs = config.cooler.watchdogSeconds * 1000;
  if (config.cooler.driver !== 'firmata' && config.thermal.periodMs > watchdogMs / 2) {
    issues.push(
      `thermal.periodMs: must be at most half of cooler.watchdogSeconds (${watchdogMs / 2} ms): the cooler goes to its own failsafe after ${config.cooler.watchdogSeconds} s without a command, got ${config.thermal.periodMs}`,
    );
  }

  // the thermal section's own rules (the API and the state-file reload apply the same ones)
  issues.push(...thermalIssues(config.thermal).map((issue) => `thermal.${issue}`));
  issues.push(...ambientThermistorIssues(config.thermal, config.cooler.thermistors.map((t) => t.id)).map((issue) => `thermal.${issue}`));
  const owner = new Map<string, string>();
  config.thermal.zones.forEach((zone, z) => {
    const at = `thermal.zones[${z}]`;
    zone.fans.forEach((fan, f) => {
      if (!fanIds.has(fan)) issues.push(`${at}.fans[${f}]: unknown fan "${fan}" (cooler.fans has: ${[...fanIds].join(', ')})`);
      const prev = owner.get(fan);
      if (prev !== undefined && prev !== zone.id) issues.push(`${at}.fans[${f}]: fan "${fan}" is already driven by zone "${prev}"`);
      owner.set(fan, zone.id);
    });
  });
  config.thermal.measuredFans.pin.forEach((fan, i) => {
    // a pin that names no fan pins nothing: the fan meant gets the measured figures
    if (!fanIds.has(fan)) issues.push(`thermal.measuredFans.pin[${i}]: unknown fan "${fan}" (cooler.fans has: ${[...fanIds].join(', ')})`);
  });
  issues.push(...checkSynthesisConfig(config.synthesis));
  return issues;
}
