// Pure helpers: times, money, labels and lateness as the operators read them (pt-BR).

export const AWAITING_PROVIDER = new Set(["open", "dispatching", "attempts_exceeded"]);
export const WITH_PROVIDER = new Set(["assigned", "en_route", "on_site", "in_transit"]);
const BEFORE_ARRIVAL = new Set([...AWAITING_PROVIDER, "assigned", "en_route"]);

export const STATUS_LABELS = {
  scheduled: "Agendado",
  open: "Aberto",
  dispatching: "Em acionamento",
  attempts_exceeded: "Tentativas esgotadas",
  assigned: "Prestador designado",
  en_route: "A caminho",
  on_site: "No local",
  in_transit: "Em trânsito",
  completed: "Concluído",
  closed: "Fechado",
  cancelled: "Cancelado",
};

export const ACTOR_LABELS = { operator: "operador", provider: "prestador", system: "sistema" };

export const OFFER_LABELS = {
  pending: "enviada",
  delivered: "entregue",
  accepted: "aceita",
  refused: "recusada",
  expired: "expirada",
  withdrawn: "retirada",
  failed: "falhou",
};

export const OPEN_OFFERS = new Set(["pending", "delivered"]);

export const CHANNEL_LABELS = {
  app: "App (GPS)",
  web: "Portal",
  link: "Link",
  verbal: "Verbal",
};

export const REACH_LABELS = {
  app: "App conectado",
  web: "Portal aberto",
  offline: "Desconectado",
  unknown: "—",
};

/** Whole minutes from `iso` to `nowMs` (never negative). */
export function minutesSince(iso, nowMs) {
  if (!iso) return 0;
  return Math.max(0, Math.floor((nowMs - Date.parse(iso)) / 60000));
}

/** Seconds from `nowMs` until `iso` (negative once past). */
export function secondsUntil(iso, nowMs) {
  return Math.round((Date.parse(iso) - nowMs) / 1000);
}

/** "5 min", "1 h 05", "2 d 3 h". */
export function duration(minutes) {
  const m = Math.max(0, Math.floor(minutes));
  if (m < 60) return `${m} min`;
  if (m < 24 * 60) return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")}`;
  return `${Math.floor(m / 1440)} d ${Math.floor((m % 1440) / 60)} h`;
}

/** "mm:ss" of a countdown in seconds ("00:00" once past). */
export function countdown(seconds) {
  const s = Math.max(0, seconds);
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

const TIME = new Intl.DateTimeFormat("pt-BR", {
  hour: "2-digit",
  minute: "2-digit",
  timeZone: "America/Sao_Paulo",
});
const DATE_TIME = new Intl.DateTimeFormat("pt-BR", {
  day: "2-digit",
  month: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  timeZone: "America/Sao_Paulo",
});

export function clock(iso) {
  return iso ? TIME.format(new Date(iso)) : "—";
}

export function dateTime(iso) {
  return iso ? DATE_TIME.format(new Date(iso)) : "—";
}

const MONEY = new Intl.NumberFormat("pt-BR", { style: "currency", currency: "BRL" });

export function money(value) {
  if (value === null || value === undefined || value === "") return "—";
  return MONEY.format(Number(value));
}

export function km(value) {
  if (value === null || value === undefined) return "—";
  return `${Number(value).toLocaleString("pt-BR", { maximumFractionDigits: 1 })} km`;
}

export function percent(value) {
  if (value === null || value === undefined) return "—";
  return `${Math.round(Number(value) * 100)}%`;
}

/** The due times a job has missed at `nowMs`, as the server computes them
 * (operations/sla.py): never from a flag frozen when an event went out. */
export function lateness(job, nowMs) {
  const late = [];
  if (AWAITING_PROVIDER.has(job.status) && job.dispatch_due_at && nowMs > Date.parse(job.dispatch_due_at)) {
    late.push("dispatch");
  }
  if (BEFORE_ARRIVAL.has(job.status) && job.arrival_due_at && nowMs > Date.parse(job.arrival_due_at)) {
    late.push("arrival");
  }
  return late;
}

/** Whether the provider is late for its promise (its ETA when it accepted). */
export function latePromise(job, nowMs) {
  return (
    (job.status === "assigned" || job.status === "en_route") &&
    Boolean(job.promised_at) &&
    !job.arrived_at &&
    nowMs > Date.parse(job.promised_at)
  );
}

/** One line of an address as the server gave it. */
export function place(address) {
  if (!address) return "—";
  if (address.one_line) return address.one_line;
  return [address.street, address.number, address.city].filter(Boolean).join(", ") || "—";
}
