// Modules found by name and loaded only when asked for: the drivers'
// registries (src/net/drivers.ts, src/port/drivers.ts, src/port/child.ts),
// so that a run loads the code of its own driver only.

/** A module that exports `driver` (a driver's half, src/<net|port>/<name>/). */
export interface DriverModule<D> {
  driver: D;
}

export interface LazyRegistry<N extends string, D> {
  /** Every name, in the order given. */
  readonly names: readonly N[];
  /** The named module's `driver`, loading it on first use. */
  load(name: N): Promise<D>;
}

export function lazyRegistry<N extends string, D>(modules: Readonly<Record<N, () => Promise<DriverModule<D>>>>): LazyRegistry<N, D> {
  return {
    names: Object.freeze(Object.keys(modules) as N[]),
    load: async (name) => (await modules[name]()).driver,
  };
}
