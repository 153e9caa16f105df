// The Zipf sampler shared by the benchmarks. Give it seededRandom (test/helpers/random.ts) so every
// run and every configuration in one run sees the same sequence.

/** Ranks 0..n-1 with P(k) ∝ 1/(k+1)^s, by inverse CDF (binary search over cumulative weights). */
export function makeZipf(n: number, s: number, random: () => number): () => number {
  const cdf = new Float64Array(n);
  let total = 0;
  for (let rank = 0; rank < n; rank++) cdf[rank] = total += 1 / (rank + 1) ** s;
  return () => {
    const target = random() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cdf[mid] ?? 0) < target) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}
