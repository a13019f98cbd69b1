/** Label values and pairs as both exposition formats write them (`name="value"`, `\`, `"`, newline escaped). */

export function escapeLabelValue(value: string): string {
  return /[\\"\n]/.test(value) ? value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : value;
}

/** `a="x",b="y"` in the record's key order; undefined values are left out. */
export function labelPairs(labels: Readonly<Record<string, string | number | undefined>> | undefined): string {
  if (labels === undefined) return '';
  // Joined rather than built with `+=`: one flat string, as kept by each series of the store.
  const pairs: string[] = [];
  for (const key in labels) {
    const v = labels[key];
    if (v !== undefined) pairs.push(`${key}="${escapeLabelValue(String(v))}"`);
  }
  return pairs.join(',');
}
