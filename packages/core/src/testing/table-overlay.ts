/**
 * A transaction's writes to one in-memory table, kept beside the committed rows instead of in a
 * copy of them: a transaction then costs the rows it writes, not the size of the table. Copying
 * the table on first write made every transaction of a long-running harness slower than the one
 * before it (the audit table grows by a dozen events a card).
 */

/** What the in-memory store's repositories use of a table: a `Map`'s reads and writes. */
export interface Table<K, V> {
  readonly size: number;
  get(key: K): V | undefined;
  has(key: K): boolean;
  set(key: K, value: V): unknown;
  delete(key: K): boolean;
  values(): IterableIterator<V>;
}

/** Marks a committed row the transaction deleted. */
const GONE: unique symbol = Symbol("deleted");

/** The committed rows of `base` as changed by this transaction's writes. */
export class TableOverlay<K, V> implements Table<K, V> {
  readonly #writes = new Map<K, V | typeof GONE>();
  #size: number;

  constructor(private readonly base: Map<K, V>) {
    this.#size = base.size;
  }

  get size(): number {
    return this.#size;
  }

  get(key: K): V | undefined {
    const written = this.#writes.get(key);
    if (written === GONE) return undefined;
    return written ?? this.base.get(key);
  }

  has(key: K): boolean {
    const written = this.#writes.get(key);
    return written === undefined ? this.base.has(key) : written !== GONE;
  }

  set(key: K, value: V): this {
    if (!this.has(key)) this.#size++;
    this.#writes.set(key, value);
    return this;
  }

  delete(key: K): boolean {
    if (!this.has(key)) return false;
    this.#size--;
    if (this.base.has(key)) this.#writes.set(key, GONE);
    else this.#writes.delete(key);
    return true;
  }

  *values(): IterableIterator<V> {
    for (const [key, value] of this.base) {
      const written = this.#writes.get(key);
      if (written === undefined) yield value;
      else if (written !== GONE) yield written;
    }
    for (const [key, value] of this.#writes) {
      if (value !== GONE && !this.base.has(key)) yield value;
    }
  }

  /** Writes this transaction's changes into the committed rows. */
  commit(): void {
    for (const [key, value] of this.#writes) {
      if (value === GONE) this.base.delete(key);
      else this.base.set(key, value);
    }
  }
}
