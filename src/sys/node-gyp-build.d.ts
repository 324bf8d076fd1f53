// node-gyp-build ships no types; the two calls rootless makes.
declare module 'node-gyp-build' {
  /** Loads the addon of the package at `dir` (build/Release, then prebuilds/). */
  function load(dir: string): unknown;
  namespace load {
    /** The path load(dir) would load; throws when there is none. */
    function resolve(dir: string): string;
  }
  export default load;
}
