/** Transformer-block grouping of layer names for sequential calibration. */

/** Block key of a layer name: everything before the last '.', or the name itself. */
export function blockOf(name: string): string {
  const i = name.lastIndexOf('.');
  return i > 0 ? name.slice(0, i) : name;
}

/** Consecutive runs of plan layers with the same block key. */
export function groupBlocks<T extends { name: string }>(layers: T[]): T[][] {
  const out: T[][] = [];
  for (const l of layers) {
    const last = out[out.length - 1];
    if (last && blockOf(last[0].name) === blockOf(l.name)) last.push(l);
    else out.push([l]);
  }
  return out;
}
