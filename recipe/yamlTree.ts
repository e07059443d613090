/** The span tree recipes are parsed into (by parse.ts through `yaml`, or fastYaml.ts's fast path). */

/** A half-open [start, end) character range in the document text. */
export interface Span {
  start: number;
  end: number;
}

export type RNode =
  | { kind: 'map'; span: Span; entries: REntry[] }
  | { kind: 'seq'; span: Span; items: RNode[] }
  | { kind: 'scalar'; span: Span; value: string | number | boolean | null; source: string; quoted: boolean };

export interface REntry {
  key: string;
  keySpan: Span;
  /** Null when the key has no value yet (`model:`). */
  value: RNode | null;
  /** Key start to value end. */
  span: Span;
}
