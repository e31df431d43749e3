// picomatch 4 ships no types and @types/picomatch is not installed: the one call we make.
declare module 'picomatch' {
  interface PicomatchOptions {
    readonly nocase?: boolean;
    readonly dot?: boolean;
  }
  function picomatch(glob: string | readonly string[], options?: PicomatchOptions): (input: string) => boolean;
  export default picomatch;
}
