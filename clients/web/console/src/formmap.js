// The Atendimento form's map: where the origin (A) and destination (B) pins stand;
// drag one to correct its point.

import L from "leaflet";
import "leaflet/dist/leaflet.css";

const SAO_PAULO = [-23.55, -46.63];

export function formMap(element, config) {
  const map = L.map(element, { zoomControl: true }).setView(SAO_PAULO, 11);
  if (config.tile_url) {
    L.tileLayer(config.tile_url, { attribution: config.tile_attribution, maxZoom: 19 }).addTo(map);
  }
  setTimeout(() => map.invalidateSize(), 0);
  return { map, L };
}
