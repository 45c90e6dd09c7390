// Search beneficiaries and vehicles as the operator types (GET /api/v1/search).
"use strict";

const MIN_CHARS = 3;
const DEBOUNCE_MS = 150;
let timer = null;
let inFlight = null;

function formatDocument(doc) {
  if (doc.length === 11) return doc.replace(/(\d{3})(\d{3})(\d{3})(\d{2})/, "$1.$2.$3-$4");
  // A CNPJ's first 12 characters may be letters (the alphanumeric CNPJ).
  if (doc.length === 14) return doc.replace(/(\w{2})(\w{3})(\w{3})(\w{4})(\d{2})/, "$1.$2.$3/$4-$5");
  return doc;
}

function formatPlate(plate) {
  return /^[A-Z]{3}\d{4}$/.test(plate) ? `${plate.slice(0, 3)}-${plate.slice(3)}` : plate;
}

function renderHit(hit) {
  const item = document.createElement("li");
  const title = document.createElement("strong");
  const meta = document.createElement("div");
  meta.className = "meta";
  if (hit.kind === "vehicle") {
    title.textContent = `${formatPlate(hit.plate)} · ${[hit.make, hit.model].filter(Boolean).join(" ")}`;
    meta.textContent = `${hit.beneficiary_name} · ${formatDocument(hit.document)} · ${hit.client_trade_name}`;
  } else {
    title.textContent = hit.beneficiary_name;
    meta.textContent = `${formatDocument(hit.document)} · ${hit.client_trade_name}`;
  }
  if (!hit.beneficiary_active || hit.vehicle_active === false) meta.textContent += " · inativo";
  item.append(title, meta);
  return item;
}

async function runSearch(text) {
  const results = document.getElementById("results");
  const hint = document.getElementById("search-hint");
  if (inFlight) inFlight.abort();
  if (text.trim().length < MIN_CHARS) {
    results.replaceChildren();
    hint.textContent = "Digite ao menos 3 caracteres.";
    return;
  }
  inFlight = new AbortController();
  try {
    const response = await fetch(`/api/v1/search?q=${encodeURIComponent(text)}`,
      { signal: inFlight.signal });
    const body = await response.json();
    if (!response.ok) {
      hint.textContent = body.error ? body.error.message : "Não foi possível buscar.";
      return;
    }
    results.replaceChildren(...body.hits.map(renderHit));
    hint.textContent = body.hits.length ? `${body.hits.length} resultado(s)` : "Nada encontrado.";
  } catch (error) {
    if (error.name !== "AbortError") hint.textContent = "Servidor indisponível.";
  }
}

document.getElementById("search").addEventListener("input", (event) => {
  clearTimeout(timer);
  timer = setTimeout(() => runSearch(event.target.value), DEBOUNCE_MS);
});
