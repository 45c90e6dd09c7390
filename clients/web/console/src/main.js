// The operators' console: sign-in, the dispatch and tracking panels, the job page
// with its dispatch tab, and the live map, all updated live over /ws/panel.

import "./style.css";
import { api, get, post, setCsrf } from "./api.js";
import { $, failed, flash, h } from "./dom.js";
import {
  ACTOR_LABELS,
  AWAITING_PROVIDER,
  CHANNEL_LABELS,
  OFFER_LABELS,
  OPEN_OFFERS,
  REACH_LABELS,
  STATUS_LABELS,
  WITH_PROVIDER,
  clock,
  countdown,
  dateTime,
  duration,
  km,
  lateness,
  latePromise,
  minutesSince,
  money,
  percent,
  place,
  secondsUntil,
} from "./format.js";
import { Alerts } from "./alerts.js";
import { jobFormPage, newIncidentPage } from "./intake.js";
import { Operations, averageArrivalMinutes, averageResponseMinutes } from "./jobs.js";
import { PanelLink } from "./live.js";

const WAITING = "open,dispatching,attempts_exceeded";
const FOLLOWING = "assigned,en_route,on_site,in_transit";
const ROAD_KMH = 30; // live ETA: straight line at an urban speed
const COALESCE_MS = 16;
const PROVIDERS_REFRESH_MS = 60_000; // the map's snapshot of providers (busy, reach, new ones)

const ops = new Operations();
const state = {
  me: null,
  config: null,
  services: new Map(),
  clients: new Map(),
  incidentTypes: [],
  refusals: new Map(),
  intake: null,
  serviceName: (id) => serviceName(id),
  providers: new Map(), // id -> map provider (name, lat, lng, busy, reach)
  reasons: [],
  online: false,
  serviceFilter: "",
  clientFilter: "",
  synced: false,
  page: null,
};
let link = null;

// -- alerts ----------------------------------------------------------------------------

const alerts = new Alerts({ storage: localStorage, makeAudio: () => new AudioContext() });

function checkAlerts(now) {
  for (const job of ops.jobs.values()) {
    const late = lateness(job, now).length > 0 || latePromise(job, now);
    if (late) alerts.alert(`${job.id}:${job.status}`);
  }
}

/** An offer that expired unanswered: the job waits again. Alert once (its row turns
 * amber on the Painel de Acionamento until another offer goes out), unless automatic
 * dispatch is on the job: it asks the next provider itself, and alerts when it gives
 * up (runChanged). */
function offerExpired(offer) {
  const job = ops.jobs.get(offer.job_id);
  if (job && !AWAITING_PROVIDER.has(job.status)) return; // someone else took it meanwhile
  const run = ops.runs.get(offer.job_id);
  if (run && run.status === "active") return;
  if (alerts.alert(`offer:${offer.id}:expired`)) {
    flash(`Atendimento #${offer.job_id}: a oferta a ${providerName(offer.provider_id)} expirou sem resposta.`);
  }
}

function runChanged(run) {
  if (run.status === "gave_up" && alerts.alert(`run:${run.job_id}:${run.started_at}:gave_up`)) {
    flash(`Atendimento #${run.job_id}: ${run.status_label.toLowerCase()}; acione manualmente.`);
  }
}

/** Whether the job waits again because its last offer expired unanswered (none open
 * since). */
function unanswered(jobId) {
  const offers = ops.offersOf(jobId);
  return offers.length > 0 && offers.every((o) => !OPEN_OFFERS.has(o.status)) && offers.at(-1).status === "expired";
}

// -- session -------------------------------------------------------------------------

async function restore() {
  try {
    signedIn(await get("/auth/me"));
  } catch {
    showLogin();
  }
}

function showLogin(message) {
  if (link) link.stop();
  link = null;
  setPage(null);
  ops.reset();
  alerts.forget();
  clearInterval(state.alarm);
  state.synced = false;
  state.me = null;
  for (const id of ["menu", "who", "logout", "mute", "link-state"]) $(id).hidden = true;
  const error = h("p", { class: "error", role: "alert", hidden: !message }, message || "");
  const form = h(
    "form",
    { class: "card login", id: "login-form" },
    h("h1", {}, "Console de operações"),
    h("label", {}, "Login ", h("input", { name: "login", id: "login", required: true, autocomplete: "username" })),
    h(
      "label",
      {},
      "Senha ",
      h("input", { name: "password", id: "password", type: "password", required: true, autocomplete: "current-password" }),
    ),
    h("button", { type: "submit" }, "Entrar"),
    error,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    try {
      signedIn(await post("/auth/login", { login: $("login").value, password: $("password").value }));
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
    }
  });
  $("view").replaceChildren(form);
  $("login").focus();
}

async function signedIn(me) {
  state.me = me;
  setCsrf(me.csrf_token);
  $("who").textContent = `${me.name} · ${me.role}`;
  for (const id of ["menu", "who", "logout", "mute"]) $(id).hidden = false;
  renderMenu();
  try {
    await loadReference();
  } catch (e) {
    failed(e);
  }
  if (!can("operations.view")) {
    route();
    return;
  }
  clearInterval(state.alarm);
  state.alarm = setInterval(() => checkAlerts(Date.now()), 1000); // whatever page is open
  link = new PanelLink({
    onEvent: (event) => ops.apply(event),
    onPositions: (rows) => positions(rows),
    onState: linkState,
    resync,
    verify,
  });
  link.start();
  route();
}

async function logout() {
  try {
    await post("/auth/logout");
  } finally {
    showLogin();
  }
}

function linkState(value) {
  state.online = value === "online";
  const el = $("link-state");
  el.hidden = state.online;
  el.textContent = value === "signed-out" ? "Sessão encerrada: entre de novo" : "Sem conexão: reconectando…";
  document.body.classList.toggle("offline", !state.online);
  if (value === "signed-out") showLogin("Sua sessão terminou. Entre de novo.");
}

const MENU = [
  ["#/novo", "Novo Evento", "operations.open_incident"],
  ["#/acionamento", "Painel de Acionamento", "operations.view"],
  ["#/acompanhamento", "Painel de Acompanhamento", "operations.view"],
  ["#/mapa", "Mapa", "operations.view"],
];

function renderMenu() {
  const items = MENU.filter(([, , permission]) => can(permission));
  $("menu").replaceChildren(...items.map(([href, label]) => h("a", { href, dataset: { route: href } }, label)));
}

// -- data -----------------------------------------------------------------------------

async function loadReference() {
  const items = (found) => (found.status === "fulfilled" ? found.value.items : []);
  const [config, services, reasons, clients, types, refusals] = await Promise.allSettled([
    get("/console/config"),
    get("/service_types?page_size=200&active=true"),
    get("/cancellation_reasons?page_size=200"),
    get("/clients?page_size=200"),
    get("/incident_types?page_size=200"),
    get("/refusal_reasons?page_size=200"),
  ]);
  state.config = config.status === "fulfilled" ? config.value : {};
  state.services = new Map(items(services).map((s) => [s.id, s]));
  state.reasons = items(reasons).filter((r) => r.active !== false);
  state.clients = new Map(items(clients).map((c) => [c.id, c]));
  state.incidentTypes = items(types).filter((t) => t.active !== false);
  state.refusals = new Map(items(refusals).map((r) => [r.id, r.name]));
  if (can("operations.view")) await loadProviders();
}

function can(permission) {
  return Boolean(state.me && state.me.permissions.includes(permission));
}

async function loadProviders() {
  const found = await get("/console/providers");
  state.providers = new Map(found.providers.map((p) => [p.id, p]));
  if (state.page && state.page.map) state.page.map.setProviders(found.providers);
}

const HEAD = "9223372036854775807"; // any position past the newest: answers the newest

/** After each (re)connection: the events missed since the last one applied, or a
 * fresh snapshot (the first time, or when they were pruned). Events arriving
 * meanwhile are held by the link and applied after. */
async function resync() {
  if (state.synced) {
    let after = ops.lastSeq;
    for (;;) {
      const page = await get(`/events?after=${after}&limit=1000`);
      if (page.reload) break;
      for (const event of page.events) ops.apply(event);
      ops.lastSeq = Math.max(ops.lastSeq, page.last_seq);
      if (page.events.length < 1000) return;
      after = page.last_seq;
    }
  }
  const head = await get(`/events?after=${HEAD}&limit=1`); // the newest position
  const [waiting, following, offers] = await Promise.all([
    get(`/jobs?status=${WAITING}&kind=assistance&order=oldest&page_size=500`),
    get(`/jobs?status=${FOLLOWING}&order=oldest&page_size=500`),
    get("/offers/waiting"),
  ]);
  ops.loadJobs([...waiting.items, ...following.items]);
  for (const offer of offers) ops.putOffer(offer);
  ops.lastSeq = Math.max(ops.lastSeq, head.last_seq);
  state.synced = true;
  if (state.page && state.page.map) loadProviders().catch(() => {});
}

/** The socket keeps failing: is the session still good? */
async function verify() {
  try {
    await get("/auth/me");
  } catch (e) {
    if (e.status === 401) showLogin("Sua sessão terminou. Entre de novo.");
  }
}

function positions(rows) {
  for (const [id, lat, lng, t] of rows) {
    const p = state.providers.get(id);
    if (p) {
      p.lat = lat;
      p.lng = lng;
      p.live = true;
      p.position_ms = t;
    }
  }
  if (state.page && state.page.map) state.page.map.positions(rows);
  if (state.page && state.page.onPositions) state.page.onPositions(rows);
}

function serviceName(id) {
  const s = state.services.get(id);
  return s ? s.name : "—";
}

function providerName(id) {
  if (!id) return "—";
  const p = state.providers.get(id);
  return p ? p.name : `Prestador ${id}`;
}

function haversineKm(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLng = (b.lng - a.lng) * rad;
  const x = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLng / 2) ** 2;
  return 12742 * Math.asin(Math.sqrt(x));
}

function liveEta(job) {
  const p = state.providers.get(job.provider_id);
  if (!p || !p.live || !job.origin || (job.status !== "en_route" && job.status !== "assigned")) {
    return null;
  }
  return (haversineKm(p, job.origin) / ROAD_KMH) * 60;
}

// -- pages ----------------------------------------------------------------------------

function setPage(page) {
  if (state.page && state.page.destroy) state.page.destroy();
  state.page = page;
  if (!page) return;
  for (const a of $("menu").querySelectorAll("a")) {
    a.classList.toggle("active", location.hash.startsWith(a.dataset.route));
  }
}

function route() {
  if (!state.me) return;
  // The dispatchers' panel first; a call-taker without it lands on Novo Evento.
  const home = [...MENU.slice(1), MENU[0]].find(([, , permission]) => can(permission));
  if (!home) {
    setPage(nothingHere());
    return;
  }
  const hash = location.hash || home[0];
  const job = hash.match(/^#\/atendimentos\/(\d+)/);
  const jobForm = hash.match(/^#\/eventos\/(\d+)\/atendimento/);
  if (job) setPage(jobPage(Number(job[1])));
  else if (jobForm) setPage(jobFormPage(state, Number(jobForm[1]), go));
  else if (hash.startsWith("#/novo")) setPage(newIncidentPage(state, go));
  else if (hash.startsWith("#/acompanhamento")) setPage(followingPage());
  else if (hash.startsWith("#/mapa")) setPage(mapPage());
  else setPage(waitingPage());
}

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function nothingHere() {
  $("view").replaceChildren(
    h(
      "section",
      { class: "panel" },
      h("h1", {}, "Nada aqui para o seu perfil ainda"),
      h("p", {}, `O perfil ${state.me.role} não opera eventos. As telas de cadastro e de fechamento chegam nas próximas versões; a API está em /api/v1.`),
    ),
  );
  return {};
}

/** Render now, on every change (once however many came together within a frame's
 * time) and every second (the minutes waiting tick). A timer, not an animation
 * frame: a panel in a background tab still renders, and still alerts. */
function ticking(render) {
  let frame = null;
  const soon = () => {
    if (frame === null) {
      frame = setTimeout(() => {
        frame = null;
        render();
      }, COALESCE_MS);
    }
  };
  const unsubscribe = ops.onChange(soon);
  const timer = setInterval(soon, 1000);
  render();
  return () => {
    unsubscribe();
    clearInterval(timer);
    clearTimeout(frame);
  };
}

function filters(onChange) {
  const service = h(
    "select",
    { "aria-label": "Filtrar por serviço", id: "service-filter" },
    h("option", { value: "" }, "Todos os serviços"),
    ...[...state.services.values()].map((s) => h("option", { value: s.id }, s.name)),
  );
  const client = h(
    "select",
    { "aria-label": "Filtrar por cliente", id: "client-filter" },
    h("option", { value: "" }, "Todos os clientes"),
    ...[...state.clients.values()].map((c) => h("option", { value: c.id }, c.trade_name)),
  );
  service.value = state.serviceFilter;
  client.value = state.clientFilter;
  service.addEventListener("change", () => {
    state.serviceFilter = service.value;
    onChange();
  });
  client.addEventListener("change", () => {
    state.clientFilter = client.value;
    onChange();
  });
  return h("span", { class: "filters" }, client, service);
}

function filtered(jobs) {
  return jobs.filter(
    (j) =>
      (!state.serviceFilter || String(j.service_type_id) === state.serviceFilter) &&
      (!state.clientFilter || String(j.client_id) === state.clientFilter),
  );
}

/** Make `body`'s children `rows`, in order, moving only what is out of place (a job
 * added or gone touches one row, not the table). */
function placeRows(body, rows) {
  const wanted = new Set(rows);
  for (const child of [...body.children]) if (!wanted.has(child)) child.remove();
  let cursor = body.firstChild;
  for (const tr of rows) {
    if (tr === cursor) cursor = cursor.nextSibling;
    else body.insertBefore(tr, cursor);
  }
}

const IN_ROW = 3; // candidates a row of the Painel de Acionamento offers
const ROW_RADIUS_KM = 20; // the job page's default radius

function waitingPage() {
  const body = h("tbody");
  const summary = h("p", { class: "summary", id: "waiting-summary" });
  const rows = new Map(); // job id -> {tr, key, wait}
  const opened = new Map(); // job id -> {candidates, error, version, tr, key}: expanded rows
  const empty = h("tr", {}, h("td", { colspan: 7, class: "empty" }, "Nenhum atendimento aguardando prestador."));
  const dispatcher = can("operations.dispatch");

  const toggle = async (jobId) => {
    if (opened.has(jobId)) {
      opened.delete(jobId);
      render();
      return;
    }
    const entry = { candidates: null, error: null, version: 0 };
    opened.set(jobId, entry);
    render();
    try {
      entry.candidates = (await get(`/jobs/${jobId}/candidates?radius_km=${ROW_RADIUS_KM}&limit=${IN_ROW}`)).candidates;
    } catch (e) {
      entry.error = e.message;
    }
    entry.version += 1;
    render();
  };

  // A row is rebuilt only when what it shows changed (its key); the order is kept by
  // moving the existing rows. 300 waiting jobs cost a few milliseconds per change.
  const row = (job, now) => {
    const late = lateness(job, now).length > 0;
    const open = ops.openOffers(job.id).length;
    const quiet = !open && unanswered(job.id);
    const run = ops.runs.get(job.id);
    const auto = Boolean(run && run.status === "active");
    const expanded = opened.has(job.id);
    const key = `${job.updated_at}|${open}|${ops.attempts(job.id)}|${late}|${quiet}|${auto}|${expanded}`;
    const known = rows.get(job.id);
    if (known && known.key === key) {
      setText(known.wait, duration(minutesSince(job.created_at, now)));
      return known.tr;
    }
    const wait = h("td", { class: "num wait" }, duration(minutesSince(job.created_at, now)));
    const actions = [h("a", { class: "button", href: `#/atendimentos/${job.id}` }, "Abrir")];
    if (dispatcher) {
      actions.unshift(
        h(
          "button",
          {
            type: "button",
            class: "secondary",
            "aria-expanded": expanded ? "true" : "false",
            title: `Os ${IN_ROW} melhores prestadores, para acionar daqui`,
            dataset: { action: "candidates" },
            onclick: () => toggle(job.id),
          },
          "Prestadores",
        ),
        h(
          "button",
          { type: "button", class: auto ? "secondary" : "", dataset: { action: "auto" }, onclick: () => autoDispatch(job.id, !auto) },
          auto ? "Parar automático" : "Automático",
        ),
      );
    }
    const tr = h(
      "tr",
      { class: late ? "late" : quiet ? "unanswered" : "", dataset: { job: job.id } },
      h("td", {}, h("a", { href: `#/atendimentos/${job.id}` }, `#${job.id}`)),
      h("td", {}, serviceName(job.service_type_id)),
      h("td", { class: "place" }, place(job.origin)),
      wait,
      h("td", { class: "num" }, String(ops.attempts(job.id))),
      h(
        "td",
        { class: "status" },
        job.status_label,
        open ? h("span", { class: "badge offered" }, `${open} oferta(s)`) : null,
        auto ? h("span", { class: "badge auto" }, "automático") : null,
        quiet ? h("span", { class: "badge unanswered" }, "sem resposta") : null,
        late ? h("span", { class: "badge late" }, "atrasado") : null,
      ),
      h("td", { class: "actions" }, ...actions),
    );
    rows.set(job.id, { tr, key, wait });
    return tr;
  };

  /** The expanded row: the best candidates with a button per channel that reaches
   * each now (the job page has them all, with every column). */
  const detail = (job) => {
    const entry = opened.get(job.id);
    const offered = new Set(ops.openOffers(job.id).map((o) => o.provider_id));
    const key = `${entry.version}|${[...offered].join(",")}`;
    if (entry.tr && entry.key === key) return entry.tr;
    let content;
    if (entry.error) content = h("p", { class: "error" }, entry.error);
    else if (!entry.candidates) content = h("p", { class: "hint" }, "Buscando prestadores…");
    else if (!entry.candidates.length) content = h("p", { class: "hint" }, `Nenhum prestador encontrado em ${ROW_RADIUS_KM} km.`);
    else {
      content = [
        h(
          "p",
          { class: "hint" },
          `Os melhores prestadores em ${ROW_RADIUS_KM} km (todas as colunas na `,
          h("a", { href: `#/atendimentos/${job.id}` }, "página do atendimento"),
          "):",
        ),
        h(
          "table",
          { class: "grid row-candidates" },
          h("tbody", {}, ...entry.candidates.map((c) => candidateLine(job.id, c, offered.has(c.provider_id)))),
        ),
      ];
    }
    entry.tr = h("tr", { class: "detail", dataset: { candidatesOf: job.id } }, h("td", { colspan: 7 }, content));
    entry.key = key;
    return entry.tr;
  };

  const render = () => {
    const now = Date.now();
    const jobs = filtered(ops.waiting());
    const response = averageResponseMinutes([...ops.offers.values()]);
    const arrival = averageArrivalMinutes([...ops.jobs.values()]);
    const waits = jobs.map((j) => minutesSince(j.created_at, now));
    const lateCount = jobs.filter((j) => lateness(j, now).length).length;
    summary.textContent =
      `${jobs.length} aguardando prestador · ${lateCount} atrasado(s) · espera média ` +
      `${waits.length ? duration(waits.reduce((a, b) => a + b, 0) / waits.length) : "—"} · ` +
      `resposta média ${response === null ? "—" : duration(response)} · ` +
      `chegada média ${arrival === null ? "—" : duration(arrival)}`;
    const shown = [];
    for (const job of jobs) {
      shown.push(row(job, now));
      if (opened.has(job.id)) shown.push(detail(job));
    }
    const ids = new Set(jobs.map((j) => j.id));
    for (const id of rows.keys()) if (!ids.has(id)) rows.delete(id);
    for (const id of opened.keys()) if (!ids.has(id)) opened.delete(id);
    keepingFocus(body, () => placeRows(body, shown.length ? shown : [empty]));
    checkAlerts(now);
  };
  const table = h(
    "table",
    { class: dispatcher ? "grid dispatcher" : "grid", id: "waiting" },
    h("thead", {}, h("tr", {}, ...["Atendimento", "Serviço", "Origem", "Espera", "Tentativas", "Situação", ""].map((t) => h("th", {}, t)))),
    body,
  );
  $("view").replaceChildren(
    h("section", { class: "panel" }, h("div", { class: "panel-head" }, h("h1", {}, "Painel de Acionamento"), filters(render)), summary, table),
  );
  return { destroy: ticking(render) };
}

/** One candidate in a row of the Painel de Acionamento. */
function candidateLine(jobId, c, offered) {
  return h(
    "tr",
    { dataset: { provider: c.provider_id } },
    h("td", {}, c.name || `Prestador ${c.provider_id}`, c.busy ? h("span", { class: "badge busy" }, "ocupado") : null),
    h("td", {}, REACH_LABELS[c.connectivity] || c.connectivity),
    h("td", { class: "num" }, km(c.distance_km)),
    h("td", { class: "num" }, money(c.price)),
    h("td", { class: "num" }, `pontuação ${c.score.toFixed(3)}`),
    h("td", { class: "channels" }, ...channelButtons(jobId, c, offered)),
  );
}

/** A button per channel that reaches the candidate now (none once it has an offer). */
function channelButtons(jobId, c, offered) {
  if (offered) return ["oferta aberta"];
  if (!c.channels_now.length) return [h("span", { title: "Nenhum canal alcança o prestador agora" }, "—")];
  return c.channels_now.map((channel) =>
    h(
      "button",
      { type: "button", dataset: { channel }, onclick: () => offerTo(jobId, c.provider_id, channel, c.name) },
      CHANNEL_LABELS[channel] || channel,
    ),
  );
}

/** Offer the job to a provider by a channel (verbal: the ETA it gave on the phone). */
async function offerTo(jobId, providerId, channel, name) {
  try {
    const body = { provider_id: providerId, channel };
    if (channel === "verbal") {
      const eta = prompt("ETA informado pelo prestador (minutos):", "30");
      if (eta === null) return;
      body.eta_minutes = Number(eta);
    }
    const offer = await post(`/jobs/${jobId}/offers`, body);
    ops.apply({ type: "offer.created", offer });
    flash(`Oferta enviada a ${name || providerName(providerId)} (${CHANNEL_LABELS[channel]}).`, "ok");
  } catch (e) {
    failed(e);
  }
}

/** Start (or restart) the job's automatic dispatch, or stop it. */
async function autoDispatch(jobId, start) {
  try {
    const run = start ? await post(`/jobs/${jobId}/auto-dispatch`) : await api("DELETE", `/jobs/${jobId}/auto-dispatch`);
    ops.apply({ type: "dispatch.run", run });
    if (start) flash(`Atendimento #${jobId}: acionamento automático iniciado.`, "ok");
  } catch (e) {
    failed(e);
  }
}

/** Run `change` (which may replace rows of `container`) and give the focus back to
 * the same control of the same row if it was in one: a keyboard user keeps their
 * place when a row is rebuilt under them. */
function keepingFocus(container, change) {
  const active = document.activeElement;
  const tr = active && container.contains(active) ? active.closest("tr[data-job]") : null;
  const action = active && active.dataset ? active.dataset.action : null;
  change();
  if (tr && action && !active.isConnected) {
    const again = container.querySelector(`tr[data-job='${tr.dataset.job}'] [data-action='${action}']`);
    if (again) again.focus();
  }
}

function statusActions(job, refresh) {
  const buttons = can("operations.dispatch") ? moveButtons(job, refresh) : [];
  if (job.next_statuses.includes("cancelled") && can("operations.cancel_job")) {
    buttons.push(cancelControl(job));
  }
  return buttons;
}

function moveButtons(job, refresh) {
  const actions = job.next_statuses.filter((s) => s !== "cancelled" && s !== "open" && s !== "dispatching");
  const labels = { en_route: "A caminho", on_site: "No local", in_transit: "Em trânsito", completed: "Concluir" };
  return actions
    .filter((s) => labels[s])
    .map((s) =>
      h(
        "button",
        {
          type: "button",
          onclick: async () => {
            try {
              await post(`/jobs/${job.id}/status`, { to: s });
              refresh();
            } catch (e) {
              failed(e);
            }
          },
        },
        labels[s],
      ),
    );
}

function cancelControl(job) {
  const reason = h(
    "select",
    { "aria-label": "Motivo do cancelamento" },
    h("option", { value: "" }, "Motivo…"),
    ...state.reasons.map((r) => h("option", { value: r.id }, r.name)),
  );
  const button = h(
    "button",
    {
      type: "button",
      class: "danger",
      onclick: async () => {
        if (!reason.value) {
          flash("Escolha o motivo do cancelamento.");
          reason.focus();
          return;
        }
        try {
          await post(`/jobs/${job.id}/cancel`, { cancellation_reason_id: Number(reason.value) });
        } catch (e) {
          failed(e);
        }
      },
    },
    "Cancelar",
  );
  return h("span", { class: "cancel" }, reason, button);
}

async function timeline(jobId) {
  const rows = await get(`/jobs/${jobId}/timeline`);
  return h(
    "ol",
    { class: "timeline" },
    ...rows.map((r) =>
      h(
        "li",
        {},
        h("time", {}, dateTime(r.at)),
        ` ${r.from_status ? `${STATUS_LABELS[r.from_status]} → ` : ""}${STATUS_LABELS[r.to_status]}`,
        ` · ${ACTOR_LABELS[r.actor] || r.actor}${r.channel ? ` (${CHANNEL_LABELS[r.channel] || r.channel})` : ""}`,
        r.note ? ` · ${r.note}` : "",
      ),
    ),
  );
}

function followingPage() {
  const body = h("tbody");
  const opened = new Set();
  const rows = new Map(); // job id -> {key, tr, detail, promised, eta, age}
  const empty = h("tr", {}, h("td", { colspan: 8, class: "empty" }, "Nenhum atendimento em andamento."));

  // A row (with its buttons and the reason chosen to cancel) is rebuilt only when
  // the job changed; its ticking cells are updated in place.
  const row = (job) => {
    const key = `${job.updated_at}|${opened.has(job.id)}`;
    const known = rows.get(job.id);
    if (known && known.key === key) return known;
    const promised = h("td", {});
    const eta = h("td", { class: "num" });
    const age = h("td", { class: "num" });
    const tr = h(
      "tr",
      { dataset: { job: job.id } },
      h("td", {}, h("a", { href: `#/atendimentos/${job.id}` }, `#${job.id}`)),
      h("td", {}, serviceName(job.service_type_id)),
      h("td", {}, providerName(job.provider_id)),
      h("td", { class: "status" }, job.status_label),
      promised,
      eta,
      age,
      h(
        "td",
        { class: "actions" },
        h(
          "button",
          {
            type: "button",
            class: "link",
            onclick: () => {
              if (opened.has(job.id)) opened.delete(job.id);
              else opened.add(job.id);
              render();
            },
          },
          "Linha do tempo",
        ),
        h("a", { class: "link-map", href: `#/mapa?atendimento=${job.id}` }, "No mapa"),
        ...statusActions(job, () => {}),
      ),
    );
    let detail = null;
    if (opened.has(job.id)) {
      const cell = h("td", { colspan: 8 }, "Carregando…");
      timeline(job.id).then((list) => cell.replaceChildren(list), failed);
      detail = h("tr", { class: "detail" }, cell);
    }
    const made = { key, tr, detail, promised, eta, age };
    rows.set(job.id, made);
    return made;
  };

  const tick = (job, made, now) => {
    const late = lateness(job, now).length > 0 || latePromise(job, now);
    made.tr.classList.toggle("late", late);
    const badge = job.promised_at ? (late ? "atrasado" : "no prazo") : "";
    const promised = `${job.promised_at ? clock(job.promised_at) : "—"}|${badge}`;
    if (made.promisedText !== promised) {
      made.promisedText = promised;
      made.promised.replaceChildren(
        job.promised_at ? clock(job.promised_at) : "—",
        badge ? h("span", { class: `badge ${late ? "late" : "ok"}` }, badge) : "",
      );
    }
    const minutes = liveEta(job);
    setText(made.eta, minutes === null ? "—" : duration(minutes));
    const p = state.providers.get(job.provider_id);
    const seconds = p && p.live && p.position_ms ? Math.max(0, Math.round((now - p.position_ms) / 1000)) : null;
    setText(made.age, seconds === null ? "—" : `${seconds} s`);
  };

  const render = () => {
    const now = Date.now();
    const jobs = filtered(ops.following());
    const shown = [];
    for (const job of jobs) {
      const made = row(job);
      tick(job, made, now);
      shown.push(made.tr);
      if (made.detail) shown.push(made.detail);
    }
    const ids = new Set(jobs.map((j) => j.id));
    for (const id of rows.keys()) if (!ids.has(id)) rows.delete(id);
    placeRows(body, shown.length ? shown : [empty]);
    checkAlerts(now);
  };
  $("view").replaceChildren(
    h(
      "section",
      { class: "panel" },
      h("div", { class: "panel-head" }, h("h1", {}, "Painel de Acompanhamento"), filters(render)),
      h(
        "table",
        { class: "grid", id: "following" },
        h("thead", {}, h("tr", {}, ...["Atendimento", "Serviço", "Prestador", "Situação", "Prometido", "ETA ao vivo", "Última posição", ""].map((t) => h("th", {}, t)))),
        body,
      ),
    ),
  );
  return { destroy: ticking(render) };
}

function setText(el, value) {
  if (el.textContent !== value) el.textContent = value;
}

// -- the job page ------------------------------------------------------------------------

function jobPage(jobId) {
  const header = h("div", { class: "job-head" }, "Carregando…");
  const offersBody = h("tbody");
  const candidatesBody = h("tbody");
  const history = h("div", { class: "history" });
  const runNote = h("p", { class: "run" });
  let candidates = [];

  const renderHeader = () => {
    const job = ops.jobs.get(jobId);
    if (!job) return;
    const now = Date.now();
    const late = lateness(job, now);
    header.replaceChildren(
      h("h1", {}, `Atendimento #${job.id} · ${serviceName(job.service_type_id)}`),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Situação"),
        h(
          "dd",
          {},
          h("span", { id: "job-status" }, job.status_label),
          h("span", { class: "badge late", id: "job-late", hidden: late.length === 0 }, "atrasado"),
        ),
        h("dt", {}, "Solicitante"),
        h("dd", {}, `${job.requester.name || "—"} ${job.requester.phone || ""}`),
        h("dt", {}, "Origem"),
        h("dd", {}, place(job.origin)),
        h("dt", {}, "Destino"),
        h("dd", {}, place(job.destination)),
        h("dt", {}, "Prestador"),
        h("dd", {}, providerName(job.provider_id)),
        h("dt", {}, "Prazo de acionamento"),
        h("dd", {}, clock(job.dispatch_due_at)),
        h("dt", {}, "Chegada prometida"),
        h("dd", {}, clock(job.promised_at)),
        h("dt", {}, "Observações ao prestador"),
        h("dd", {}, job.notes_for_provider || "—"),
      ),
      h("div", { class: "actions" }, ...statusActions(job, () => {})),
    );
    const run = ops.runs.get(jobId);
    runNote.textContent = run ? `Acionamento automático: ${run.status_label}${run.note ? ` (${run.note})` : ""}` : "";
  };

  const offerRows = new Map(); // offer id -> {version, tr, countdown}
  const noOffers = h("tr", {}, h("td", { colspan: 8, class: "empty" }, "Nenhuma oferta ainda."));
  // An offer's row (its buttons) is rebuilt only when the offer changed; the
  // countdown ticks in place.
  const offerRow = (o) => {
    const key = `${o.version}|${o.status}|${o.awaiting_confirmation}`; // delivery keeps the version
    const known = offerRows.get(o.id);
    if (known && known.key === key) return known;
    const open = OPEN_OFFERS.has(o.status);
    const left = h("td", { class: "num" }, "—");
    const tr = h(
      "tr",
      { class: `offer ${o.status}`, dataset: { offer: o.id } },
      h("td", {}, providerName(o.provider_id)),
      h("td", {}, CHANNEL_LABELS[o.channel] || o.channel),
      h(
        "td",
        { class: "offer-status" },
        OFFER_LABELS[o.status] || o.status,
        o.awaiting_confirmation ? " (confirmar ETA)" : "",
      ),
      h("td", { class: "offer-reason" }, offerReason(o)),
      left,
      h("td", { class: "num" }, o.eta_minutes ? `${o.eta_minutes} min` : "—"),
      h("td", { class: "num" }, money(o.price)),
      h(
        "td",
        {},
        open && can("operations.dispatch")
          ? h("button", { type: "button", class: "link", onclick: () => withdraw(o.id) }, "Retirar")
          : null,
        o.awaiting_confirmation && can("operations.dispatch")
          ? h("button", { type: "button", onclick: () => confirmEta(o.id) }, "Confirmar")
          : null,
      ),
    );
    const made = { key, tr, left, open };
    offerRows.set(o.id, made);
    return made;
  };

  const renderOffers = () => {
    const now = Date.now();
    const offers = ops.offersOf(jobId);
    const shown = offers.map((o) => {
      const made = offerRow(o);
      setText(made.left, made.open ? countdown(secondsUntil(o.expires_at, now)) : "—");
      return made.tr;
    });
    placeRows(offersBody, shown.length ? shown : [noOffers]);
  };

  const renderCandidates = () => {
    const job = ops.jobs.get(jobId);
    const awaiting = job && AWAITING_PROVIDER.has(job.status);
    candidatesBody.replaceChildren(
      ...candidates.map((c) => {
        const offered = ops.openOffers(jobId).some((o) => o.provider_id === c.provider_id);
        return h(
          "tr",
          { dataset: { provider: c.provider_id } },
          h("td", {}, c.name || `Prestador ${c.provider_id}`, c.busy ? h("span", { class: "badge busy" }, "ocupado") : null),
          h("td", {}, REACH_LABELS[c.connectivity] || c.connectivity),
          h("td", {}, c.city || "—"),
          h("td", {}, c.phone || "—"),
          h("td", { class: "num" }, money(c.price)),
          h("td", { class: "num" }, km(c.distance_km)),
          h("td", { class: "num" }, percent(c.on_time_rate)),
          h("td", { class: "num" }, percent(c.acceptance_rate)),
          h("td", { class: "num" }, String(c.preference)),
          h("td", {}, c.partner ? "sim" : "—"),
          h(
            "td",
            { class: "num" },
            h(
              "details",
              {},
              h("summary", {}, c.score.toFixed(3)),
              h(
                "ul",
                { class: "breakdown" },
                ...c.breakdown.map((f) => h("li", {}, `${f.name}: ${f.value.toFixed(2)} × ${f.weight.toFixed(2)} = ${f.contribution.toFixed(3)}`)),
              ),
            ),
          ),
          h("td", { class: "channels" }, ...(awaiting ? channelButtons(jobId, c, offered) : ["—"])),
        );
      }),
    );
    if (!candidates.length) candidatesBody.append(h("tr", {}, h("td", { colspan: 12, class: "empty" }, "Nenhum prestador encontrado no raio.")));
  };

  const loadCandidates = async () => {
    const radius = $("radius") ? $("radius").value : 20;
    try {
      const found = await get(`/jobs/${jobId}/candidates?radius_km=${radius}&limit=20`);
      candidates = found.candidates;
    } catch (e) {
      candidates = [];
      failed(e);
    }
    renderCandidates();
  };

  const withdraw = async (offerId) => {
    try {
      ops.apply({ type: "offer.status", offer: await post(`/offers/${offerId}/withdraw`) });
    } catch (e) {
      failed(e);
    }
  };

  const confirmEta = async (offerId) => {
    try {
      ops.apply({ type: "offer.status", offer: await post(`/offers/${offerId}/confirm`) });
    } catch (e) {
      failed(e);
    }
  };

  // Candidates and their buttons are for those who dispatch (the API answers them
  // only); the others follow the offers and the timeline.
  const dispatcher = can("operations.dispatch");
  const dispatching = dispatcher
    ? [
        h("h2", {}, "Acionamento"),
        h(
          "div",
          { class: "toolbar" },
          h("label", {}, "Raio (km) ", h("input", { id: "radius", type: "number", min: 1, max: 200, value: ROW_RADIUS_KM, size: 4 })),
          h("button", { type: "button", onclick: loadCandidates }, "Buscar prestadores"),
          h("button", { type: "button", onclick: () => autoDispatch(jobId, true) }, "Acionamento automático"),
          h("button", { type: "button", class: "link", onclick: () => autoDispatch(jobId, false) }, "Parar automático"),
          runNote,
        ),
        h(
          "table",
          { class: "grid", id: "candidates" },
          h("thead", {}, h("tr", {}, ...["Prestador", "Conectividade", "Cidade", "Telefone", "Valor", "Distância", "No prazo", "Aceite", "Preferência", "Parceiro", "Pontuação", "Acionar por"].map((t) => h("th", {}, t)))),
          candidatesBody,
        ),
      ]
    : [runNote];
  $("view").replaceChildren(
    h(
      "section",
      { class: "panel job" },
      header,
      h(
        "div",
        { class: "tabs" },
        ...dispatching,
        h("h2", {}, "Ofertas"),
        h(
          "table",
          { class: "grid", id: "offers" },
          h("thead", {}, h("tr", {}, ...["Prestador", "Canal", "Situação", "Motivo", "Expira em", "ETA", "Valor", ""].map((t) => h("th", {}, t)))),
          offersBody,
        ),
        h("h2", {}, "Linha do tempo"),
        history,
      ),
    ),
  );

  const refreshHistory = () => timeline(jobId).then((list) => history.replaceChildren(list), () => {});
  const stop = ops.onChange((what) => {
    if (what.kind === "job" && what.job.id === jobId) {
      renderHeader();
      renderCandidates();
      refreshHistory();
    }
    if (what.kind === "offer" && what.offer.job_id === jobId) {
      renderOffers();
      renderCandidates();
    }
    if (what.kind === "run" && what.run.job_id === jobId) renderHeader();
  });
  const timer = setInterval(() => {
    renderOffers();
    const job = ops.jobs.get(jobId);
    if (job && $("job-late")) $("job-late").hidden = lateness(job, Date.now()).length === 0;
  }, 1000);
  (async () => {
    try {
      const [job, offers] = await Promise.all([get(`/jobs/${jobId}`), get(`/jobs/${jobId}/offers`)]);
      ops.putJob(job);
      ops.loadOffers(jobId, offers);
      renderHeader();
      renderOffers();
      refreshHistory();
      if (dispatcher && AWAITING_PROVIDER.has(job.status)) await loadCandidates();
    } catch (e) {
      header.replaceChildren(h("h1", {}, `Atendimento #${jobId}`), h("p", { class: "error" }, e.message));
    }
  })();
  return {
    destroy: () => {
      stop();
      clearInterval(timer);
    },
  };
}

const WITHDRAW_LABELS = {
  taken: "outro prestador aceitou",
  assigned: "atendimento designado",
  cancelled: "atendimento cancelado",
  operator: "retirada pelo operador",
  redispatch: "reacionamento",
  eta_too_long: "ETA acima do máximo do cliente",
};

function offerReason(offer) {
  if (offer.refusal_reason_id) return state.refusals.get(offer.refusal_reason_id) || "—";
  if (offer.withdraw_reason) return WITHDRAW_LABELS[offer.withdraw_reason] || offer.withdraw_reason;
  if (offer.failure) return offer.failure;
  return "";
}

// -- the live map ------------------------------------------------------------------------

function mapPage() {
  const holder = h("div", { id: "map", class: "map" });
  const legend = h(
    "ul",
    { class: "legend" },
    h("li", {}, h("i", { class: "dot app" }), "App conectado"),
    h("li", {}, h("i", { class: "dot web" }), "Portal aberto"),
    h("li", {}, h("i", { class: "dot offline" }), "Desconectado"),
    h("li", {}, h("i", { class: "dot busy" }), "Em atendimento"),
    h("li", {}, h("i", { class: "dot waiting" }), "Aguardando"),
    h("li", {}, h("i", { class: "dot offered" }), "Ofertado"),
    h("li", {}, h("i", { class: "dot assigned" }), "Com prestador"),
    h("li", {}, h("i", { class: "dot late" }), "Atrasado"),
    h("li", {}, h("i", { class: "dot destination" }), h("i", { class: "route" }), "Destino e trajeto"),
    h("li", {}, h("i", { class: "cluster" }, "12"), "Agrupados (aproxime para ver cada um)"),
  );
  $("view").replaceChildren(h("section", { class: "panel map-panel" }, h("div", { class: "panel-head" }, h("h1", {}, "Mapa ao vivo"), legend), holder));
  const page = { map: null, destroy: () => {} };
  import("./map.js").then(({ LiveMap }) => {
    if (state.page !== page) return;
    const map = new LiveMap(holder, state.config || {});
    page.map = map;
    map.setProviders([...state.providers.values()]);
    // The providers' snapshot may predate the jobs known here: those on a job are busy
    // now; a fresh snapshot follows.
    for (const job of ops.following()) if (job.provider_id) map.setBusy(job.provider_id, true);
    loadProviders().catch(() => {});
    const drawJobs = () => {
      const now = Date.now();
      for (const job of ops.jobs.values()) map.putJob(job, ops.openOffers(job.id).length, now);
    };
    drawJobs();
    const stop = ops.onChange((what) => {
      if (what.kind === "job") {
        const job = what.job;
        map.putJob(job, ops.openOffers(job.id).length, Date.now());
        if (job.provider_id) {
          // Busy while any job known here has it (the snapshot every minute corrects the rest).
          const busy = [...ops.jobs.values()].some(
            (j) => j.provider_id === job.provider_id && WITH_PROVIDER.has(j.status),
          );
          map.setBusy(job.provider_id, busy);
        }
      } else drawJobs();
    });
    const timer = setInterval(drawJobs, 5000);
    const refresh = setInterval(() => loadProviders().catch(() => {}), PROVIDERS_REFRESH_MS);
    const params = new URLSearchParams(location.hash.split("?")[1] || "");
    const followJob = Number(params.get("atendimento"));
    const followProvider = Number(params.get("prestador"));
    if (followJob) followTrack(map, followJob, page);
    else if (followProvider) map.follow(followProvider);
    page.destroy = () => {
      stop();
      clearInterval(timer);
      clearInterval(refresh);
      map.destroy();
    };
    setTimeout(() => map.invalidate(), 0);
  });
  return page;
}

/** Show the job's provider with the track it made on the job so far, then live. */
async function followTrack(map, jobId, page) {
  try {
    const [job, track] = await Promise.all([get(`/jobs/${jobId}`), get(`/jobs/${jobId}/track`)]);
    if (state.page !== page || !job.provider_id) return;
    const points = track.filter((f) => f.provider_id === job.provider_id).map((f) => [f.lat, f.lng]);
    map.follow(job.provider_id, points);
  } catch (e) {
    failed(e);
  }
}

// -- start ----------------------------------------------------------------------------

$("logout").addEventListener("click", logout);
$("mute").addEventListener("click", () => {
  alerts.toggleMute();
  muteLabel();
});
function muteLabel() {
  $("mute").textContent = alerts.muted ? "Som: desligado" : "Som: ligado";
  $("mute").setAttribute("aria-pressed", alerts.muted ? "true" : "false");
}
muteLabel();
// The sound may start only from a user gesture: the first click or key press (the
// sign-in's included) makes or resumes the alerts' audio.
for (const gesture of ["click", "keydown"]) {
  document.addEventListener(gesture, () => alerts.unlock(), { capture: true, passive: true });
}
ops.onChange((what) => {
  if (what.kind === "offer" && what.type === "offer.status" && what.offer.status === "expired") offerExpired(what.offer);
  if (what.kind === "run") runChanged(what.run);
});
window.addEventListener("hashchange", route);
window.acionar = {
  ops,
  state,
  alerts,
  get link() {
    return link;
  },
}; // for the browser tests and curious operators
restore();
