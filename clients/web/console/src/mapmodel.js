// The live map's pure rules: what colour a provider or a job is, and how providers
// group into clusters at low zoom. No Leaflet, no DOM: map.js draws what these say.

import { AWAITING_PROVIDER, lateness, latePromise } from "./format.js";

export const PROVIDER_COLOURS = {
  app: "#15803d", // the app is connected
  web: "#2563eb", // the portal is open
  offline: "#6b7280", // neither: link or phone only
  busy: "#facc15", // on a job
};

export const JOB_COLOURS = {
  waiting: "#ea580c",
  offered: "#7c3aed",
  assigned: "#0d9488",
  late: "#dc2626",
};

/** The legend's kind of a provider: busy first, then how it can be reached now. */
export function providerKind(p) {
  if (p.busy) return "busy";
  if (p.reach === "app" || p.reach === "web") return p.reach;
  return "offline";
}

export function providerColour(p) {
  return PROVIDER_COLOURS[providerKind(p)];
}

/** A job's state on the map: late (a missed due time, or its provider late for the
 * promised arrival), waiting, offered (an offer open) or with a provider. */
export function jobState(job, openOffers, nowMs) {
  if (lateness(job, nowMs).length || latePromise(job, nowMs)) return "late";
  if (!AWAITING_PROVIDER.has(job.status)) return "assigned";
  if (openOffers > 0) return "offered";
  return "waiting";
}

export function jobColour(job, openOffers, nowMs) {
  return JOB_COLOURS[jobState(job, openOffers, nowMs)];
}

const CELL_SPAN = 1 << 20; // cell columns per row in a key: far more than a screen holds

/** Providers grouped by the screen cell (`cellPx` square) they fall in: one cluster
 * per occupied cell, at its members' centroid, with the count of each kind.
 * `points`: [{x, y, kind}] in pixels. O(n), one pass: 5,000 providers cost about a
 * millisecond, cheap enough to redo on every position update. */
export function gridClusters(points, cellPx) {
  const cells = new Map();
  for (const p of points) {
    const key = Math.floor(p.y / cellPx) * CELL_SPAN + Math.floor(p.x / cellPx);
    let cell = cells.get(key);
    if (!cell) {
      cell = { x: 0, y: 0, count: 0, kinds: {} };
      cells.set(key, cell);
    }
    cell.x += p.x;
    cell.y += p.y;
    cell.count += 1;
    cell.kinds[p.kind] = (cell.kinds[p.kind] || 0) + 1;
  }
  const clusters = [];
  for (const cell of cells.values()) {
    clusters.push({ x: cell.x / cell.count, y: cell.y / cell.count, count: cell.count, kinds: cell.kinds });
  }
  return clusters;
}

/** A cluster bubble's radius in pixels: grows with the count's order of magnitude. */
export function clusterRadius(count) {
  return count < 2 ? 5 : Math.round(12 + 5 * Math.log10(count));
}

/** The cluster drawn at pixel (x, y), if any (the last one drawn wins, as on screen). */
export function clusterAt(clusters, x, y) {
  for (let i = clusters.length - 1; i >= 0; i -= 1) {
    const c = clusters[i];
    const r = clusterRadius(c.count);
    if ((c.x - x) ** 2 + (c.y - y) ** 2 <= r * r) return c;
  }
  return null;
}
