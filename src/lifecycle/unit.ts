/** A subsystem with a lifetime. The supervisor starts units in dependency order and stops them in reverse. */
export interface Unit {
  readonly name: string;
  /** names of units that must be started before this one */
  readonly dependsOn?: readonly string[];
  start(): Promise<void>;
  stop(): Promise<void>;
  /** false while the unit cannot yet do its job (e.g. no sensor sample yet); absent means ready once started */
  ready?(): boolean;
  /** false when the unit's own loop has stalled; the systemd watchdog is only fed while all are alive */
  alive?(): boolean;
}

/** Kahn's algorithm; ties keep declaration order so start order is predictable. */
export function startOrder(units: readonly Unit[]): Unit[] {
  const byName = new Map(units.map((u) => [u.name, u]));
  if (byName.size !== units.length) throw new Error('unit names must be unique');
  for (const u of units) {
    for (const dep of u.dependsOn ?? []) {
      if (!byName.has(dep)) throw new Error(`unit "${u.name}" depends on unknown unit "${dep}"`);
    }
  }
  const ordered: Unit[] = [];
  const placed = new Set<string>();
  while (ordered.length < units.length) {
    const next = units.find((u) => !placed.has(u.name) && (u.dependsOn ?? []).every((d) => placed.has(d)));
    if (!next) {
      const stuck = units.filter((u) => !placed.has(u.name)).map((u) => u.name);
      throw new Error(`dependency cycle among units: ${stuck.join(', ')}`);
    }
    ordered.push(next);
    placed.add(next.name);
  }
  return ordered;
}
