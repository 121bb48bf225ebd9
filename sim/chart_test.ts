import assert from "node:assert/strict";
import { renderChart } from "./chart.ts";

Deno.test("chart draws both panels with one point per network size", () => {
  const svg = renderChart([
    {
      nodes: 1000,
      meanStretch: 1.3,
      p99Stretch: 4,
      controlPerNodePerSec: 9,
      controlPerRoutePerSec: 0.3,
    },
    {
      nodes: 100,
      meanStretch: 1.1,
      p99Stretch: 2,
      controlPerNodePerSec: 5,
      controlPerRoutePerSec: 0.28,
    },
  ]);
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(svg.trimEnd().endsWith("</svg>"));
  assert.equal(svg.match(/<polyline /g)?.length, 4, "mean, p99, control, control per route");
  assert.equal(svg.match(/<circle /g)?.length, 8);
  assert.ok(svg.includes(">100<") && svg.includes(">1000<"));
  assert.ok(!svg.includes("NaN"));
});
