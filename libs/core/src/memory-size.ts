const UNITS: Record<string, number> = { kb: 1e3, mb: 1e6, gb: 1e9, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30 };

/**
 * Bytes of a DuckDB memory size such as `448MB`, ` 1.5 gb ` or `2GiB` (KB/MB/GB in powers of 1000, KiB/MiB/GiB in
 * powers of 1024, any case), or undefined when it is not one (a percentage, say).
 */
export function memorySizeBytes(size: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(KB|MB|GB|KiB|MiB|GiB)$/i.exec(size.trim());
  return m ? Number(m[1]) * UNITS[m[2].toLowerCase()] : undefined;
}
