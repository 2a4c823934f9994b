/**
 * The few WebAssembly JS API calls the runner makes, typed here because the project's `lib` (ES2023, no DOM)
 * has no WebAssembly declarations; the engine has them all.
 */
/** A compiled `WebAssembly.Module` (opaque here). */
export interface WasmModule {
  readonly __wasmModule?: never;
}

/** A `WebAssembly.Instance`: only its exports are used. */
export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

interface WasmApi {
  Module: {
    new (bytes: Uint8Array): WasmModule;
    exports(m: WasmModule): { name: string; kind: string }[];
    imports(m: WasmModule): { module: string; name: string; kind: string }[];
  };
  Instance: new (m: WasmModule, imports: object) => WasmInstance;
}

/** `globalThis.WebAssembly` with the types above. */
export const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
