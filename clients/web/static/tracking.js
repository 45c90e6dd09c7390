// The requester's tracking page: poll the state every few seconds, draw the
// provider's approach around the origin (metres east/north), show the ETA.
"use strict";

(function () {
  const map = document.getElementById("map");
  if (!map) return;
  const dot = document.getElementById("provider");
  const scaleText = document.getElementById("scale");
  const statusNode = document.getElementById("status");
  const etaNode = document.getElementById("eta");
  const url = location.pathname.replace(/\/$/, "") + "/state";

  function draw(offset) {
    if (!offset) { dot.setAttribute("display", "none"); scaleText.textContent = ""; return; }
    const far = Math.max(Math.abs(offset.east_m), Math.abs(offset.north_m), 200);
    const radius = [500, 1000, 2000, 5000, 10000, 20000, 50000].find((r) => r >= far) || far;
    const x = (offset.east_m / radius) * 90;
    const y = (-offset.north_m / radius) * 90;
    dot.setAttribute("transform", `translate(${x.toFixed(1)} ${y.toFixed(1)})`);
    dot.removeAttribute("display"); // an attribute, not a style: the CSP allows no inline style
    scaleText.textContent = `raio ${radius >= 1000 ? radius / 1000 + " km" : radius + " m"}`;
  }

  async function poll() {
    try {
      const response = await fetch(url, { cache: "no-store" });
      const state = await response.json();
      if (!response.ok) {
        statusNode.textContent = state.message || "Acompanhamento encerrado.";
        etaNode.textContent = "—";
        draw(null);
        return; // ended or revoked: stop polling
      }
      statusNode.textContent = state.status_label;
      etaNode.textContent = state.arrived ? "Chegou" : state.eta_minutes == null ? "—" : `${Math.max(1, Math.round(state.eta_minutes))} min`;
      draw(state.arrived ? null : state.offset);
    } catch (error) {
      // offline for a moment: try again on the next tick
    }
    setTimeout(poll, 10000);
  }

  poll();
})();
