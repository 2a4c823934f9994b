/** Unsigned LEB128, the integer encoding of the wasm binary format (used by the module rewriters). */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/**
 * Reads an unsigned LEB128 of at most 5 bytes (a u32 of the wasm format) at `pos`: its value and the offset
 * after it, or undefined when the bytes end first or it is longer.
 */
export function readUleb(bytes: Uint8Array, pos: number): { value: number; next: number } | undefined {
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 5 && pos + i < bytes.length; i++) {
    const b = bytes[pos + i]!;
    value += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return { value, next: pos + i + 1 };
    mul *= 128;
  }
  return undefined;
}
