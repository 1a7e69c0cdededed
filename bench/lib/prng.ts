// mulberry32: a small seeded pseudo-random generator, so that a bench's load or a property
// test's run is the same every time (and a failure can be replayed from its seed). Pure: the
// overlay bench's browser page bundles it too.

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
