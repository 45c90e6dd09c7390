import { describe, expect, it } from "vitest";
import { JOB_COLOURS, PROVIDER_COLOURS, clusterAt, clusterRadius, gridClusters, jobColour, jobState, providerColour } from "./mapmodel.js";

const NOW = Date.parse("2026-03-01T12:00:00Z");
const past = new Date(NOW - 60_000).toISOString();
const future = new Date(NOW + 60_000).toISOString();

describe("map colours", () => {
  it("colours a provider busy first, then by reach", () => {
    expect(providerColour({ reach: "app", busy: true })).toBe(PROVIDER_COLOURS.busy);
    expect(providerColour({ reach: "web" })).toBe(PROVIDER_COLOURS.web);
    expect(providerColour({ reach: "unknown" })).toBe(PROVIDER_COLOURS.offline);
  });

  it("colours a job by its state", () => {
    expect(jobState({ status: "open", dispatch_due_at: future }, 0, NOW)).toBe("waiting");
    expect(jobState({ status: "dispatching", dispatch_due_at: future }, 1, NOW)).toBe("offered");
    expect(jobState({ status: "open", dispatch_due_at: past }, 1, NOW)).toBe("late");
    expect(jobState({ status: "en_route", promised_at: future }, 0, NOW)).toBe("assigned");
  });

  it("counts a provider late for its promise as a late job", () => {
    const job = { status: "en_route", promised_at: past, arrived_at: null };
    expect(jobColour(job, 0, NOW)).toBe(JOB_COLOURS.late);
    expect(jobColour({ ...job, status: "on_site" }, 0, NOW)).toBe(JOB_COLOURS.assigned);
  });
});

describe("grid clusters", () => {
  it("groups the points of a cell at their centroid with each kind counted", () => {
    const clusters = gridClusters(
      [
        { x: 10, y: 10, kind: "app" },
        { x: 30, y: 20, kind: "busy" },
        { x: 20, y: 30, kind: "app" },
        { x: 100, y: 10, kind: "web" },
      ],
      50,
    );
    expect(clusters).toHaveLength(2);
    const big = clusters.find((c) => c.count === 3);
    expect(big).toMatchObject({ x: 20, y: 20, kinds: { app: 2, busy: 1 } });
    expect(clusters.find((c) => c.count === 1).kinds).toEqual({ web: 1 });
  });

  it("keeps every point: 5,000 providers, counts summing to 5,000", () => {
    const points = Array.from({ length: 5000 }, (_, i) => ({ x: (i * 7) % 1300, y: (i * 13) % 900, kind: "app" }));
    const clusters = gridClusters(points, 56);
    expect(clusters.reduce((sum, c) => sum + c.count, 0)).toBe(5000);
    expect(clusters.length).toBeLessThanOrEqual(Math.ceil(1300 / 56) * Math.ceil(900 / 56));
  });

  it("finds the cluster under a click", () => {
    const clusters = gridClusters([{ x: 100, y: 100, kind: "app" }, { x: 104, y: 100, kind: "app" }], 56);
    expect(clusterAt(clusters, 102 + clusterRadius(2) - 1, 100)).toBe(clusters[0]);
    expect(clusterAt(clusters, 102 + clusterRadius(2) + 1, 100)).toBe(null);
  });
});
