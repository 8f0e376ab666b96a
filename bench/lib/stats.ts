/**
 * A log-linear latency histogram (HdrHistogram-like: 64 sub-buckets per power of two, so a reported
 * percentile is within ~1.6% of the true value) over microseconds. O(1) to record, fixed memory.
 */
export class Histogram {
  private readonly counts = new Float64Array(128 + 40 * 64);
  count = 0;
  max = 0;
  min = Infinity;
  private sum = 0;

  /** Records one value in milliseconds. */
  record(ms: number): void {
    const us = ms <= 0 ? 0 : Math.round(ms * 1000);
    this.counts[bucketOf(us)]! += 1;
    this.count += 1;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
    if (ms < this.min) this.min = ms;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.max = 0;
    this.min = Infinity;
    this.sum = 0;
  }

  /** The value (ms) below which `p` percent of the recorded values lie. */
  percentile(p: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let index = 0; index < this.counts.length; index++) {
      seen += this.counts[index]!;
      if (seen >= rank) return Math.min(midpointOf(index) / 1000, this.max);
    }
    return this.max;
  }

  get mean(): number {
    return this.count === 0 ? NaN : this.sum / this.count;
  }

  /** p50/p99/max in ms, rounded for a report. */
  summary(): LatencySummary {
    return {
      count: this.count,
      p50: round(this.percentile(50), 3),
      p99: round(this.percentile(99), 3),
      max: round(this.count === 0 ? NaN : this.max, 3),
    };
  }
}

/** Latency percentiles in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

function bucketOf(us: number): number {
  if (us < 128) return us;
  const exponent = Math.min(31 - Math.clz32(Math.min(us, 2 ** 31 - 1)), 46);
  const sub = Math.floor(us / 2 ** (exponent - 6)) & 63;
  return 128 + (exponent - 7) * 64 + sub;
}

function midpointOf(index: number): number {
  if (index < 128) return index;
  const exponent = Math.floor((index - 128) / 64) + 7;
  const sub = (index - 128) % 64;
  const width = 2 ** (exponent - 6);
  return 2 ** exponent + sub * width + width / 2;
}

/** Rounds to `digits` decimals (NaN stays NaN). */
export function round(value: number, digits = 2): number {
  if (!Number.isFinite(value)) return value;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** Median of the finite values (NaN when none). */
export function median(values: number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Exact percentile of a sample array (sorted copy), for small samples such as per-query timings. */
export function samplePercentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** Least-squares slope and intercept of y over x, with R². */
export function linearFit(points: { x: number; y: number }[]): { slope: number; intercept: number; r2: number } {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (const { x, y } of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
    syy += (y - my) ** 2;
  }
  const slope = sxx === 0 ? NaN : sxy / sxx;
  return { slope, intercept: my - slope * mx, r2: syy === 0 ? 1 : (sxy * sxy) / (sxx * syy) };
}

/**
 * The per-metric median over runs: every numeric field of the run objects (nested one level, e.g.
 * `latency.p99`) becomes the median of that field across runs.
 */
export function medianOf<T extends object>(runs: T[]): T {
  const first = runs[0];
  if (first === undefined) throw new Error("no runs");
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(first)) {
    if (typeof value === "number") {
      out[key] = median(runs.map((run) => (run as Record<string, number>)[key]!));
    } else if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      out[key] = medianOf(runs.map((run) => (run as Record<string, object>)[key]!));
    } else {
      out[key] = value;
    }
  }
  return out as T;
}
