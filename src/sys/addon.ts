// Loads the C++ addon once and turns its errors into SyscallError. Each
// area has its own typed binding (native.ts, native-net.ts, ...) over the
// same module, so areas do not share one long interface.
import { createRequire } from 'node:module';
import { SyscallError } from './errors.js';

interface NativeError extends Error {
  code?: string;
  errno?: number;
  syscall?: string;
  subject?: string;
  step?: string;
}

let loaded: unknown;

export function loadAddon<T>(): T {
  if (loaded === undefined) {
    const require = createRequire(import.meta.url);
    // dist/src/sys/addon.js (or a bundle at the same depth) -> build/Release
    loaded = require('../../../build/Release/rootless.node');
  }
  return loaded as T;
}

export function rethrow(err: unknown): never {
  const e = err as NativeError;
  if (e && typeof e.code === 'string' && typeof e.syscall === 'string') {
    throw new SyscallError(e.syscall, e.errno ?? 0, e.code, e.subject, e.step);
  }
  throw err;
}

/** Wraps a native function so its errors are SyscallErrors. */
export function wrap<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  return (...args: A): R => {
    try {
      return fn(...args);
    } catch (err) {
      rethrow(err);
    }
  };
}
