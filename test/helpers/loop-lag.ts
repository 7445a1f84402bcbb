/**
 * How late this process's event loop runs, for the benchmarks whose simulators and proxies time
 * each request as this loop gets to it (a stalled loop bunches arrivals). monitorEventLoopDelay's
 * histogram holds the time between turns of its timer, the timer's interval included (an idle loop
 * reads 10 ms at a resolution of 10): the lag is what exceeds the interval.
 */
import { type ELDHistogram, monitorEventLoopDelay } from 'node:perf_hooks';

const resolutionMs = 10;

/** A histogram to enable over what is measured, then read with {@link loopLag}. */
export function loopLagMonitor(): ELDHistogram {
  return monitorEventLoopDelay({ resolution: resolutionMs });
}

/** The lag beyond the timer's interval, in ms: p99 and max. */
export function loopLag(histogram: ELDHistogram): { p99: number; max: number } {
  return { p99: histogram.percentile(99) / 1e6 - resolutionMs, max: histogram.max / 1e6 - resolutionMs };
}
