/** Shared by the benchmarks: medians and a timed pool of workers. */
export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export interface Timing {
  median: number;
  total: number;
}

/** Runs `one(0..count-1)` with `parallel` workers; the median of each call and the wall time of all. */
export async function timed(count: number, parallel: number, one: (i: number) => Promise<void>): Promise<Timing> {
  const each: number[] = [];
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        const i = next++;
        const t = performance.now();
        await one(i);
        each.push(performance.now() - t);
      }
    }),
  );
  return { median: median(each), total: performance.now() - started };
}

/** One line of a "Corral against LXD directly" table. */
export function ratioRow(label: string, corral: Timing, lxd: Timing): string {
  return `${label.padEnd(24)} | ${corral.median.toFixed(0).padStart(10)} ms | ${lxd.median.toFixed(0).padStart(7)} ms | ${(corral.median / lxd.median).toFixed(2)}`;
}
