/**
 * A bounded map that forgets the least recently used entries: at most `max` entries and, when
 * entries are given a weight (e.g. their size in bytes), at most `maxWeight` in total; an entry
 * heavier than that alone is not kept. Memory never grows with the runs or with their size.
 */
export class Lru<K, V> {
  readonly #max: number;
  readonly #maxWeight: number;
  readonly #map = new Map<K, { value: V; weight: number }>();
  #weight = 0;

  constructor(max: number, maxWeight = Number.POSITIVE_INFINITY) {
    this.#max = Math.max(1, max);
    this.#maxWeight = maxWeight;
  }

  get(key: K): V | undefined {
    const entry = this.#map.get(key);
    if (entry !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, entry);
    }
    return entry?.value;
  }

  has(key: K): boolean {
    return this.#map.has(key);
  }

  set(key: K, value: V, weight = 0): void {
    this.delete(key);
    if (weight > this.#maxWeight) return;
    this.#map.set(key, { value, weight });
    this.#weight += weight;
    while (this.#map.size > this.#max || this.#weight > this.#maxWeight) {
      const oldest = this.#map.keys().next();
      if (oldest.done) break;
      this.delete(oldest.value);
    }
  }

  delete(key: K): void {
    const entry = this.#map.get(key);
    if (entry === undefined) return;
    this.#map.delete(key);
    this.#weight -= entry.weight;
  }

  get size(): number {
    return this.#map.size;
  }

  /** The total weight of the entries kept. */
  get weight(): number {
    return this.#weight;
  }
}
