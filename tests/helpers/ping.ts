/**
 * Reading `ping -D` output in netns tests: when replies stopped and resumed.
 *
 * @module
 */

/** Longest time (ms) between two consecutive ping replies in `ping -D` output after `fromS`. */
export function longestGap(output: string, fromS: number): number {
  const times = [...output.matchAll(/^\[(\d+\.\d+)\].*time=/gm)].map((m) => Number(m[1]))
    .filter((t) => t >= fromS);
  let gap = 0;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i] - times[i - 1]);
  return Math.round(gap * 1000);
}

/** Replies in `ping -D` output received after `fromS` (Unix seconds). */
export function repliesAfter(output: string, fromS: number): number {
  return [...output.matchAll(/^\[(\d+\.\d+)\].*time=/gm)].filter((m) => Number(m[1]) >= fromS)
    .length;
}

/** `ping -n -D` of `count` requests `intervalS` apart, each waiting `waitS`: the argv. */
export function timedPing(ip: string, count: number, intervalS: number, waitS = 1): string[] {
  return [
    "ping",
    "-n",
    "-D",
    "-c",
    String(count),
    "-i",
    String(intervalS),
    "-W",
    String(waitS),
    ip,
  ];
}
