// Shows /readyz on the landing page, refreshed every 10 s.
"use strict";
const NAMES = { postgresql: "Banco de dados (PostgreSQL)", postgis: "PostGIS", redis: "Redis" };

async function refresh() {
  const list = document.getElementById("checks");
  try {
    const response = await fetch("/readyz", { cache: "no-store" });
    const body = await response.json();
    list.replaceChildren(...Object.entries(body.checks).map(([name, check]) => {
      const item = document.createElement("li");
      item.className = check.ok ? "ok" : "bad";
      item.textContent = `${NAMES[name] || name}: ${check.ok ? "ok" : "indisponível"}`;
      return item;
    }));
  } catch (error) {
    const item = document.createElement("li");
    item.className = "bad";
    item.textContent = "Servidor indisponível";
    list.replaceChildren(item);
  }
}

refresh();
setInterval(refresh, 10000);
