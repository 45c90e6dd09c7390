// The live map: providers and jobs drawn on canvases (never one DOM element per
// provider), positions applied at most once per animation frame. Tiles come from
// the setting MAP_TILE_URL; with none, or none reachable, the markers stay on a
// plain background.
//
// At zoom CLUSTER_UNTIL_ZOOM and below, providers are grouped by a grid of screen
// cells and drawn by ClusterLayer on a canvas of its own: one bubble per occupied
// cell with its count, ringed by the share of each kind (app, portal, neither,
// busy); a lone provider is its dot. Closer in, each provider is a circle marker on
// Leaflet's shared canvas renderer, with its name on hover. Jobs are never
// clustered (hundreds at most): origin (filled), destination (ringed) and a dashed
// line between them, all in the job's state colour.

import L from "leaflet";
import "leaflet/dist/leaflet.css";
import { place } from "./format.js";
import { clusterAt, clusterRadius, gridClusters, jobColour, providerColour, providerKind, PROVIDER_COLOURS } from "./mapmodel.js";

const SAO_PAULO = [-23.55, -46.63];
const TRAIL_POINTS = 2000;
export const CLUSTER_UNTIL_ZOOM = 13;
const CLUSTER_CELL_PX = 56;
const CLUSTER_PADDING = 0.2; // drawn beyond each side of the view, as Leaflet's renderer
const ENDED = new Set(["completed", "cancelled", "closed"]);

/** A tooltip's content as a text node: Leaflet renders a string as HTML, and names
 * and addresses come from people and geocoders. */
function text(value) {
  const span = document.createElement("span");
  span.textContent = value;
  return span;
}

/** The providers, clustered, on a canvas of their own below the jobs. */
const ClusterLayer = L.Layer.extend({
  initialize(source) {
    this.source = source; // () => iterable of provider data ({lat, lng, busy, reach})
    this.clusters = [];
  },

  onAdd(map) {
    this.canvas = L.DomUtil.create("canvas", "provider-clusters leaflet-zoom-hide");
    this.canvas.setAttribute("aria-hidden", "true");
    this.getPane().appendChild(this.canvas);
    map.on("moveend zoomend resize viewreset", this.reset, this);
    this.reset();
  },

  onRemove(map) {
    map.off("moveend zoomend resize viewreset", this.reset, this);
    this.canvas.remove();
    this.clusters = [];
  },

  reset() {
    const map = this._map;
    const size = map.getSize();
    const pad = size.multiplyBy(CLUSTER_PADDING).round();
    this.origin = map.containerPointToLayerPoint(pad.multiplyBy(-1)).round();
    this.size = size.add(pad.multiplyBy(2));
    const ratio = window.devicePixelRatio || 1;
    this.canvas.width = this.size.x * ratio;
    this.canvas.height = this.size.y * ratio;
    this.canvas.style.width = `${this.size.x}px`;
    this.canvas.style.height = `${this.size.y}px`;
    L.DomUtil.setPosition(this.canvas, this.origin);
    this.redraw();
  },

  redraw() {
    if (!this._map) return;
    const ctx = this.canvas.getContext("2d");
    const ratio = window.devicePixelRatio || 1;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, this.size.x, this.size.y);
    if (this._map.getZoom() > CLUSTER_UNTIL_ZOOM) {
      this.clusters = [];
      return;
    }
    const points = [];
    for (const p of this.source()) {
      if (typeof p.lat !== "number" || typeof p.lng !== "number") continue;
      const at = this._map.latLngToLayerPoint([p.lat, p.lng]);
      const x = at.x - this.origin.x;
      const y = at.y - this.origin.y;
      if (x >= 0 && y >= 0 && x < this.size.x && y < this.size.y) points.push({ x, y, kind: providerKind(p) });
    }
    this.clusters = gridClusters(points, CLUSTER_CELL_PX);
    for (const c of this.clusters) drawCluster(ctx, c);
  },

  /** The cluster under a container point (a click), if any. */
  clusterAt(containerPoint) {
    const at = this._map.containerPointToLayerPoint(containerPoint);
    return clusterAt(this.clusters, at.x - this.origin.x, at.y - this.origin.y);
  },

  latLngOf(cluster) {
    return this._map.layerPointToLatLng([cluster.x + this.origin.x, cluster.y + this.origin.y]);
  },
});

function drawCluster(ctx, c) {
  const r = clusterRadius(c.count);
  if (c.count === 1) {
    const [kind] = Object.keys(c.kinds);
    ctx.beginPath();
    ctx.arc(c.x, c.y, r, 0, 2 * Math.PI);
    ctx.fillStyle = PROVIDER_COLOURS[kind];
    ctx.fill();
    ctx.lineWidth = 1;
    ctx.strokeStyle = "#111827";
    ctx.stroke();
    return;
  }
  ctx.beginPath();
  ctx.arc(c.x, c.y, r, 0, 2 * Math.PI);
  ctx.fillStyle = "rgba(15, 23, 42, 0.85)";
  ctx.fill();
  // The ring: each kind's share of the cluster, clockwise from the top.
  let start = -Math.PI / 2;
  ctx.lineWidth = 4;
  for (const [kind, n] of Object.entries(c.kinds)) {
    const end = start + (2 * Math.PI * n) / c.count;
    ctx.beginPath();
    ctx.arc(c.x, c.y, r - 2, start, end);
    ctx.strokeStyle = PROVIDER_COLOURS[kind];
    ctx.stroke();
    start = end;
  }
  ctx.fillStyle = "#ffffff";
  ctx.font = `700 ${c.count >= 1000 ? 11 : 12}px system-ui, sans-serif`;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.fillText(c.count.toLocaleString("pt-BR"), c.x, c.y + 0.5);
}

export class LiveMap {
  constructor(element, config) {
    this.renderer = L.canvas({ padding: 0.2 });
    this.map = L.map(element, { preferCanvas: true, renderer: this.renderer, zoomControl: true });
    this.map.createPane("clusters").style.zIndex = 350; // below the jobs (overlayPane, 400)
    this.map.setView(SAO_PAULO, 11);
    if (config.tile_url) {
      L.tileLayer(config.tile_url, { attribution: config.tile_attribution, maxZoom: 19 }).addTo(
        this.map,
      );
    }
    this.providers = new Map(); // id -> {data, marker}
    this.providerLayer = L.layerGroup();
    this.clusterLayer = new ClusterLayer(() => this.providerData(), { pane: "clusters" });
    this.clusterLayer.addTo(this.map);
    this.jobs = new Map(); // id -> {origin, destination, line}: circle markers and a polyline
    this.pending = new Map();
    this.frame = null;
    this.clusterFrame = null;
    this.trail = null;
    this.trailOf = null;
    this.lastPositionAt = new Map();
    this.map.on("zoomend", () => this.showProviders());
    this.map.on("click", (event) => this.zoomIntoCluster(event));
    this.showProviders();
  }

  *providerData() {
    for (const known of this.providers.values()) yield known.data;
  }

  /** Whether providers are drawn as clusters now (the zoom is low). */
  get clustered() {
    return this.map.getZoom() <= CLUSTER_UNTIL_ZOOM;
  }

  /** The cluster canvas at low zoom, each provider's marker closer in. */
  showProviders() {
    if (this.clustered) this.providerLayer.remove();
    else if (!this.map.hasLayer(this.providerLayer)) this.providerLayer.addTo(this.map);
  }

  zoomIntoCluster(event) {
    if (!this.clustered) return;
    const cluster = this.clusterLayer.clusterAt(event.containerPoint);
    if (cluster) this.map.setView(this.clusterLayer.latLngOf(cluster), Math.min(this.map.getZoom() + 2, CLUSTER_UNTIL_ZOOM + 1));
  }

  /** Redraw the clusters on the next frame (many changes, one drawing). */
  clustersChanged() {
    if (!this.clustered || this.clusterFrame) return;
    this.clusterFrame = requestAnimationFrame(() => {
      this.clusterFrame = null;
      this.clusterLayer.redraw();
    });
  }

  setProviders(list) {
    for (const p of list) this.putProvider(p);
    this.clustersChanged();
  }

  putProvider(p) {
    const known = this.providers.get(p.id);
    if (known) {
      known.data = { ...known.data, ...p };
      known.marker.setLatLng([p.lat, p.lng]);
      known.marker.setStyle({ fillColor: providerColour(known.data) });
      this.clustersChanged();
      return;
    }
    const marker = L.circleMarker([p.lat, p.lng], {
      renderer: this.renderer,
      radius: 5,
      weight: 1,
      color: "#111827",
      fillColor: providerColour(p),
      fillOpacity: 0.9,
    }).bindTooltip(() => text(this.providers.get(p.id).data.name));
    this.providerLayer.addLayer(marker);
    this.providers.set(p.id, { data: p, marker });
    this.clustersChanged();
  }

  /** Positions of the panel socket ([id, lat, lng, t]): applied on the next frame. */
  positions(rows) {
    for (const row of rows) this.pending.set(row[0], row);
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  flush() {
    this.frame = null;
    for (const [id, lat, lng, t] of this.pending.values()) {
      this.lastPositionAt.set(id, t);
      const known = this.providers.get(id);
      if (known) {
        known.data.lat = lat;
        known.data.lng = lng;
        known.marker.setLatLng([lat, lng]);
      }
      if (this.trailOf === id && this.trail) {
        const points = this.trail.getLatLngs();
        points.push([lat, lng]);
        if (points.length > TRAIL_POINTS) points.shift();
        this.trail.setLatLngs(points);
      }
    }
    this.pending.clear();
    if (this.clustered) this.clusterLayer.redraw(); // already in a frame
  }

  setBusy(providerId, busy) {
    const known = this.providers.get(providerId);
    if (known) {
      known.data.busy = busy;
      known.marker.setStyle({ fillColor: providerColour(known.data) });
      this.clustersChanged();
    }
  }

  /** A job's origin, destination and the line between them, in its state colour;
   * an ended job (or one with no origin) leaves the map. */
  putJob(job, openOffers, nowMs) {
    const known = this.jobs.get(job.id);
    if (!job.origin || ENDED.has(job.status)) {
      if (known) {
        for (const layer of [known.origin, known.destination, known.line]) if (layer) layer.remove();
        this.jobs.delete(job.id);
      }
      return;
    }
    const colour = jobColour(job, openOffers, nowMs);
    const from = [job.origin.lat, job.origin.lng];
    const dest = job.destination && typeof job.destination.lat === "number" ? [job.destination.lat, job.destination.lng] : null;
    const drawn = known || { origin: this.jobMarker(job.id, from, "origin"), destination: null, line: null };
    drawn.job = job;
    drawn.origin.setLatLng(from);
    drawn.origin.setStyle({ fillColor: colour });
    if (dest) {
      drawn.destination = drawn.destination || this.jobMarker(job.id, dest, "destination");
      drawn.destination.setLatLng(dest);
      drawn.destination.setStyle({ color: colour });
      drawn.line = drawn.line || L.polyline([from, dest], { renderer: this.renderer, weight: 2, opacity: 0.8, dashArray: "6 5", interactive: false }).addTo(this.map);
      drawn.line.setLatLngs([from, dest]);
      drawn.line.setStyle({ color: colour });
    } else {
      if (drawn.destination) drawn.destination.remove();
      if (drawn.line) drawn.line.remove();
      drawn.destination = drawn.line = null;
    }
    this.jobs.set(job.id, drawn);
  }

  jobMarker(jobId, at, end) {
    const style =
      end === "origin"
        ? { radius: 8, weight: 2, color: "#ffffff", fillOpacity: 1 }
        : { radius: 6, weight: 3, fillColor: "#ffffff", fillOpacity: 1 };
    const label = end === "origin" ? "Origem" : "Destino";
    const marker = L.circleMarker(at, { renderer: this.renderer, ...style })
      .bindTooltip(() => {
        const { job } = this.jobs.get(jobId);
        return text(`Atendimento ${jobId} · ${label}: ${place(end === "origin" ? job.origin : job.destination)}`);
      })
      .on("click", () => {
        location.hash = `#/atendimentos/${jobId}`;
      });
    return marker.addTo(this.map);
  }

  /** Follow one provider's track (the assigned provider of a job): `points`, the
   * job's track so far ([lat, lng], oldest first), then each new position. */
  follow(providerId, points = []) {
    if (this.trail) this.trail.remove();
    this.trailOf = providerId;
    const known = this.providers.get(providerId);
    const start = points.slice(-TRAIL_POINTS);
    if (known && known.data.live) start.push([known.data.lat, known.data.lng]);
    this.trail = L.polyline(start, { renderer: this.renderer, color: "#1d4ed8", weight: 3 }).addTo(
      this.map,
    );
    if (start.length > 1) this.map.fitBounds(this.trail.getBounds(), { padding: [40, 40], maxZoom: 16, animate: false });
    else if (start.length === 1) this.map.setView(start[0], 15, { animate: false });
    else if (known) this.map.setView([known.data.lat, known.data.lng], 14, { animate: false });
  }

  invalidate() {
    this.map.invalidateSize();
  }

  destroy() {
    if (this.frame) cancelAnimationFrame(this.frame);
    if (this.clusterFrame) cancelAnimationFrame(this.clusterFrame);
    this.map.remove();
  }
}
