// Mount propagation (--propagation), shared by the flags and the child's
// config. The flags behind each are in src/sys/propagation.ts.

export type Propagation = 'rprivate' | 'private' | 'rslave' | 'slave' | 'rshared' | 'shared';

export const PROPAGATIONS: readonly Propagation[] = ['rprivate', 'private', 'rslave', 'slave', 'rshared', 'shared'];
