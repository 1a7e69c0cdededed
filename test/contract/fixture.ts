// What every storage contract suite is given: instances of one implementation over one backing
// store. Two instance() calls share the data, as two processes share one Redis; a memory
// fixture answers the same object every time (one process).

export interface Fixture<T> {
  instance(): Promise<T>;
  close(): Promise<void>;
}

/** One object for every instance: a single process (memory, or a fallback to memory). */
export function single<T>(value: T): Fixture<T> {
  return { instance: async () => value, close: async () => undefined };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
