// The live map: providers and jobs drawn on one canvas (never one DOM element per
// provider), positions applied at most once per animation frame. Tiles come from
// the setting MAP_TILE_URL; with none, or none reachable, the markers stay on a
// plain background.

import L from "leaflet";
import "leaflet/dist/leaflet.css";
import { AWAITING_PROVIDER, lateness, place } from "./format.js";

const SAO_PAULO = [-23.55, -46.63];
const TRAIL_POINTS = 2000;

/** A tooltip's content as a text node: Leaflet renders a string as HTML, and names
 * and addresses come from people and geocoders. */
function text(value) {
  const span = document.createElement("span");
  span.textContent = value;
  return span;
}

export function providerColour(p) {
  if (p.busy) return "#facc15";
  if (p.reach === "app") return "#15803d";
  if (p.reach === "web") return "#2563eb";
  return "#6b7280";
}

export function jobColour(job, openOffers, nowMs) {
  if (lateness(job, nowMs).length) return "#dc2626";
  if (!AWAITING_PROVIDER.has(job.status)) return "#0d9488";
  if (openOffers > 0) return "#7c3aed";
  return "#ea580c";
}

export class LiveMap {
  constructor(element, config) {
    this.renderer = L.canvas({ padding: 0.2 });
    this.map = L.map(element, { preferCanvas: true, renderer: this.renderer, zoomControl: true });
    this.map.setView(SAO_PAULO, 11);
    if (config.tile_url) {
      L.tileLayer(config.tile_url, { attribution: config.tile_attribution, maxZoom: 19 }).addTo(
        this.map,
      );
    }
    this.providers = new Map(); // id -> {data, marker}
    this.jobs = new Map(); // id -> marker
    this.pending = new Map();
    this.frame = null;
    this.trail = null;
    this.trailOf = null;
    this.lastPositionAt = new Map();
  }

  setProviders(list) {
    for (const p of list) this.putProvider(p);
  }

  putProvider(p) {
    const known = this.providers.get(p.id);
    if (known) {
      known.data = { ...known.data, ...p };
      known.marker.setLatLng([p.lat, p.lng]);
      known.marker.setStyle({ fillColor: providerColour(known.data) });
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
    marker.addTo(this.map);
    this.providers.set(p.id, { data: p, marker });
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
  }

  setBusy(providerId, busy) {
    const known = this.providers.get(providerId);
    if (known) {
      known.data.busy = busy;
      known.marker.setStyle({ fillColor: providerColour(known.data) });
    }
  }

  putJob(job, openOffers, nowMs) {
    const origin = job.origin;
    const marker = this.jobs.get(job.id);
    if (!origin || job.status === "completed" || job.status === "cancelled" || job.status === "closed") {
      if (marker) {
        marker.remove();
        this.jobs.delete(job.id);
      }
      return;
    }
    const style = { fillColor: jobColour(job, openOffers, nowMs) };
    if (marker) {
      marker.setLatLng([origin.lat, origin.lng]);
      marker.setStyle(style);
      return;
    }
    const created = L.circleMarker([origin.lat, origin.lng], {
      renderer: this.renderer,
      radius: 8,
      weight: 2,
      color: "#ffffff",
      fillOpacity: 1,
      ...style,
    }).bindTooltip(() => text(`Atendimento ${job.id}: ${place(job.origin)}`));
    created.on("click", () => {
      location.hash = `#/atendimentos/${job.id}`;
    });
    created.addTo(this.map);
    this.jobs.set(job.id, created);
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
    this.map.remove();
  }
}
