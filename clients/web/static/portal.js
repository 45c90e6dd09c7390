// The provider web portal: sign in, then one socket (/ws/portal) brings offers and
// jobs live; answers and statuses go back on it (docs/protocol.md, dispatch).
"use strict";

const portal = { ws: null, seq: 0, offers: new Map(), jobs: new Map(), reasons: [], backoff: 1, timer: null };
const BLOCKED = "Prestador bloqueado: fale com a central para voltar a ser acionado.";
const STEPS = {
  en_route: "Estou a caminho",
  on_site: "Cheguei ao local",
  in_transit: "Em trânsito ao destino",
  completed: "Concluí o atendimento",
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function money(text) {
  return text == null ? "" : "R$ " + Number(text).toFixed(2).replace(".", ",");
}

function say(text) {
  const line = $("status-line");
  line.textContent = text;
  line.hidden = !text;
}

function send(message) {
  if (!portal.ws || portal.ws.readyState !== WebSocket.OPEN) {
    say("Sem conexão: aguarde reconectar e tente de novo.");
    return;
  }
  portal.seq += 1;
  portal.ws.send(JSON.stringify({ ...message, seq: portal.seq }));
}

function offerCard(offer) {
  const eta = el("input", { type: "number", min: "1", max: "1440", inputmode: "numeric", placeholder: "min", "aria-label": "Minutos para chegar" });
  const reason = el("select", { "aria-label": "Motivo da recusa" },
    ...portal.reasons.map((r) => el("option", { value: String(r.id) }, r.name)));
  const countdown = el("span", { class: "countdown", "data-expires": String(offer.expires_at_ms) });
  const where = offer.origin ? offer.origin.one_line : "";
  const to = offer.destination ? ` → ${offer.destination.one_line}` : "";
  return el("div", { class: "card offer", "data-offer": String(offer.offer_id) },
    el("h3", {}, offer.service || "Atendimento"),
    el("div", {}, where + to),
    el("div", { class: "meta" },
      `${offer.distance_km == null ? "" : offer.distance_km.toFixed(1).replace(".", ",") + " km · "}${money(offer.price)} · expira em `, countdown),
    el("div", { class: "row" },
      el("label", {}, "Chego em (min)", eta),
      el("button", { class: "yes", onclick: () => {
        const minutes = Number(eta.value);
        if (!Number.isInteger(minutes) || minutes < 1 || minutes > 1440) { say("Informe em quantos minutos chega."); return; }
        send({ type: "offer.accept", offer_id: offer.offer_id, eta_min: minutes });
      } }, "Aceitar")),
    el("div", { class: "row" },
      el("label", {}, "Motivo", reason),
      el("button", { class: "no", onclick: () => send({ type: "offer.refuse", offer_id: offer.offer_id, reason_id: Number(reason.value) }) }, "Recusar")));
}

function jobCard(job) {
  const phone = job.requester.phone;
  return el("div", { class: "card job", "data-job": String(job.job_id) },
    el("h3", {}, job.status_label),
    el("div", {}, job.origin ? job.origin.one_line : ""),
    job.destination ? el("div", {}, "Destino: " + job.destination.one_line) : "",
    el("div", { class: "meta" }, `${job.requester.name} · `, el("a", { href: "tel:" + phone }, phone)),
    job.notes ? el("div", { class: "meta" }, job.notes) : "",
    ...job.next_statuses.map((s) => el("button", { class: "step", onclick: () => send({ type: "job.status", job_id: job.job_id, status: s }) }, STEPS[s] || s)));
}

function render() {
  const offers = $("offers");
  const jobs = $("jobs");
  offers.replaceChildren(...[...portal.offers.values()].map(offerCard));
  if (!portal.offers.size) offers.append(el("p", { class: "empty" }, "Nenhuma oferta no momento."));
  jobs.replaceChildren(...[...portal.jobs.values()].map(jobCard));
  if (!portal.jobs.size) jobs.append(el("p", { class: "empty" }, "Nenhum atendimento em andamento."));
  tick();
}

function tick() {
  for (const node of document.querySelectorAll("[data-expires]")) {
    const left = Math.max(0, Math.round((Number(node.dataset.expires) - Date.now()) / 1000));
    node.textContent = left > 0 ? `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}` : "expirada";
  }
}

const RESULTS = {
  accepted: "Atendimento aceito. Siga para o local.",
  refused: "Oferta recusada.",
};

function onMessage(event) {
  const message = JSON.parse(event.data);
  switch (message.type) {
    case "welcome":
      portal.reasons = message.reasons;
      portal.offers.clear();
      portal.jobs.clear();
      $("hello").textContent = `Olá, ${message.name}`;
      portal.backoff = 1;
      break;
    case "offer":
      portal.offers.set(message.offer.offer_id, message.offer);
      break;
    case "offer.withdrawn":
      if (portal.offers.delete(message.offer_id)) say(message.message);
      break;
    case "job.update": {
      const job = message.job;
      if (job.status === "completed" || job.status === "cancelled" || job.status === "closed") portal.jobs.delete(job.job_id);
      else portal.jobs.set(job.job_id, job);
      for (const [id, offer] of portal.offers) if (offer.job_id === job.job_id) portal.offers.delete(id);
      break;
    }
    case "result":
      say(message.message || RESULTS[message.code] || message.code);
      break;
    case "error":
      say("Não foi possível: " + message.message);
      break;
    default:
      return; // ping and anything newer
  }
  render();
}

function setConnected(online) {
  const badge = $("conn");
  badge.hidden = false;
  badge.textContent = online ? "conectado" : "sem conexão";
  badge.classList.toggle("offline", !online);
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws/portal`);
  portal.ws = ws;
  ws.addEventListener("open", () => setConnected(true));
  ws.addEventListener("message", onMessage);
  ws.addEventListener("close", (event) => {
    setConnected(false);
    if (event.code === 4001) { signedOut(); return; }
    if (event.code === 4006) { signedOut(BLOCKED); return; } // no retry: it would be refused
    const wait = Math.random() * Math.min(30, portal.backoff) * 1000;
    portal.backoff = Math.min(30, portal.backoff * 2);
    portal.timer = setTimeout(connect, wait);
  });
}

function signedIn() {
  $("login-card").hidden = true;
  $("work").hidden = false;
  $("logout").hidden = false;
  connect();
}

function signedOut(why = "") {
  clearTimeout(portal.timer);
  const error = $("login-error");
  error.textContent = why;
  error.hidden = !why;
  if (portal.ws) portal.ws.close();
  portal.ws = null;
  $("login-card").hidden = false;
  $("work").hidden = true;
  $("logout").hidden = true;
  $("conn").hidden = true;
}

async function login(event) {
  event.preventDefault();
  const error = $("login-error");
  error.hidden = true;
  const response = await fetch("/api/v1/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ login: $("login").value, password: $("password").value }),
  });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    error.textContent = (body.error && body.error.message) || "Não foi possível entrar.";
    error.hidden = false;
    return;
  }
  portal.csrf = (await response.json()).csrf_token;
  signedIn();
}

async function logout() {
  await fetch("/api/v1/auth/logout", { method: "POST", headers: { "X-CSRF-Token": portal.csrf || "" } });
  signedOut();
}

async function start() {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  const me = await fetch("/api/v1/auth/me");
  if (me.ok) {
    portal.csrf = (await me.json()).csrf_token;
    signedIn();
  } else {
    const body = await me.json().catch(() => ({}));
    const blocked = body.error && body.error.code === "provider_blocked";
    signedOut(blocked ? body.error.message : "");
  }
  setInterval(tick, 1000);
}

start();
