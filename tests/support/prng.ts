/**
 * A small seeded pseudo-random generator (mulberry32), so generated test inputs are the same on
 * every run and a failure can be replayed.
 *
 * @example
 * ```ts
 * const random = seededRandom(42);
 * random.int(0, 9); // same value on every run
 * ```
 */
export function seededRandom(seed: number): SeededRandom {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const random: SeededRandom = {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => items[Math.floor(next() * items.length)],
    chance: (p) => next() < p,
    string: (alphabet, min, max) => {
      const length = random.int(min, max);
      let out = "";
      for (let i = 0; i < length; i++) out += random.pick([...alphabet]);
      return out;
    },
  };
  return random;
}

/** What {@linkcode seededRandom} returns. */
export interface SeededRandom {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max]. */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  /** True with probability `p`. */
  chance(p: number): boolean;
  /** A string of `min`-`max` characters drawn from `alphabet`. */
  string(alphabet: string, min: number, max: number): string;
}
