// Novo Evento and the Atendimento form: find the caller (beneficiary or vehicle) as
// the operator types, see the plans with each service's usage and the recent
// incidents, open the incident (Evento) with the TMA clock's start, then register a
// job (Atendimento) with its origin and destination from one of four sources, a pin
// that can be dragged to correct the point, and the plan's coverage: a refusal is
// shown with the server's words and the job can be opened as serviço avulso.

import { ApiError, get, post } from "./api.js";
import { $, debounce, failed, flash, h } from "./dom.js";
import { countdown, dateTime, place } from "./format.js";

const MIN_CHARS = 3;
const KINDS = [
  ["assistance", "Assistência"],
  ["inquiry", "Dúvidas"],
  ["theft", "Roubo e Furto"],
];

export function formatPlate(plate) {
  return /^[A-Z]{3}\d[A-Z0-9]\d{2}$/.test(plate || "") ? `${plate.slice(0, 3)}-${plate.slice(3)}` : plate || "";
}

export function formatDocument(doc) {
  if (!doc) return "";
  if (doc.length === 11) return doc.replace(/(\d{3})(\d{3})(\d{3})(\d{2})/, "$1.$2.$3-$4");
  if (doc.length === 14) return doc.replace(/(\w{2})(\w{3})(\w{3})(\w{4})(\d{2})/, "$1.$2.$3/$4-$5");
  return doc;
}

/** "YYYY-MM-DDTHH:MM" of a Date in local time (the value of a datetime-local input). */
export function localInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** The ISO instant of a datetime-local value (the browser's time zone), or null. */
export function fromLocalInput(value) {
  return value ? new Date(value).toISOString() : null;
}

// -- Novo Evento ------------------------------------------------------------------------

export function newIncidentPage(state, go) {
  const callStarted = Date.now();
  const clockEl = h("span", { class: "tma", id: "tma", title: "Tempo desde o início da ligação" }, "00:00");
  const tick = setInterval(() => {
    clockEl.textContent = countdown(Math.floor((Date.now() - callStarted) / 1000));
  }, 1000);
  const input = h("input", {
    id: "caller-search",
    type: "search",
    placeholder: "Nome, placa ou CPF/CNPJ",
    autocomplete: "off",
    "aria-label": "Buscar beneficiário ou veículo",
  });
  const hint = h("p", { class: "hint" }, "Digite ao menos 3 caracteres.");
  const results = h("ul", { class: "results", id: "caller-results" });
  const card = h("div", { class: "caller", id: "caller" });
  let inFlight = null;

  const search = debounce(async (text) => {
    if (inFlight) inFlight.abort();
    if (text.trim().length < MIN_CHARS) {
      results.replaceChildren();
      hint.textContent = "Digite ao menos 3 caracteres.";
      return;
    }
    inFlight = new AbortController();
    try {
      const response = await fetch(`/api/v1/search?q=${encodeURIComponent(text)}`, { signal: inFlight.signal });
      const body = await response.json();
      if (!response.ok) {
        hint.textContent = body.error ? body.error.message : "Não foi possível buscar.";
        return;
      }
      hint.textContent = body.hits.length ? `${body.hits.length} resultado(s)` : "Nada encontrado.";
      results.replaceChildren(...body.hits.map((hit) => hitItem(hit)));
    } catch (error) {
      if (error.name !== "AbortError") hint.textContent = "Servidor indisponível.";
    }
  }, 150);

  const hitItem = (hit) => {
    const title =
      hit.kind === "vehicle"
        ? `${formatPlate(hit.plate)} · ${[hit.make, hit.model].filter(Boolean).join(" ")}`
        : hit.beneficiary_name;
    const meta =
      hit.kind === "vehicle"
        ? `${hit.beneficiary_name} · ${formatDocument(hit.document)} · ${hit.client_trade_name}`
        : `${formatDocument(hit.document)} · ${hit.client_trade_name}`;
    const inactive = !hit.beneficiary_active || hit.vehicle_active === false;
    return h(
      "li",
      {},
      h(
        "button",
        { type: "button", class: "hit", onclick: () => choose(hit) },
        h("strong", {}, title),
        h("span", { class: "meta" }, meta, inactive ? " · inativo" : ""),
      ),
    );
  };

  const choose = async (hit) => {
    const query = hit.vehicle_id ? `vehicle_id=${hit.vehicle_id}` : `beneficiary_id=${hit.beneficiary_id}`;
    try {
      const prefill = await get(`/incidents/prefill?${query}`);
      results.replaceChildren();
      renderCaller(prefill, hit);
    } catch (e) {
      failed(e);
    }
  };

  const renderCaller = (prefill, hit) => {
    const b = prefill.beneficiary || {};
    const v = prefill.vehicle;
    const clients = h(
      "select",
      { id: "incident-client", required: true, "aria-label": "Cliente" },
      ...[...state.clients.values()].map((c) => h("option", { value: c.id }, c.trade_name)),
    );
    clients.value = String(prefill.client_id || hit.client_id);
    const types = h(
      "select",
      { id: "incident-type", required: true, "aria-label": "Tipo de evento" },
      h("option", { value: "" }, "Tipo de evento…"),
      ...state.incidentTypes.map((t) => h("option", { value: t.id }, t.name)),
    );
    const create = h("button", { type: "submit", id: "create-incident" }, "Criar Evento");
    const form = h(
      "form",
      { class: "create", id: "incident-form" },
      prefill.ask_client_first ? h("label", {}, "Cliente ", clients) : null,
      h("label", {}, "Tipo ", types),
      create,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!types.value) {
        flash("Escolha o tipo de evento.");
        types.focus();
        return;
      }
      create.disabled = true;
      try {
        const incident = await post("/incidents", {
          client_id: Number(prefill.ask_client_first ? clients.value : prefill.client_id || hit.client_id),
          incident_type_id: Number(types.value),
          beneficiary_id: b.id || hit.beneficiary_id || null,
          vehicle_id: (v && v.id) || hit.vehicle_id || null,
          opened_at: new Date(callStarted).toISOString(),
        });
        state.intake = { incident, prefill, callStarted };
        go(`#/eventos/${incident.id}/atendimento`);
      } catch (e) {
        failed(e);
        create.disabled = false;
      }
    });
    const plans = (prefill.coverage ? prefill.coverage.plans : []).map((plan) =>
      h(
        "div",
        { class: "plan" },
        h("h3", {}, `${plan.name} (${plan.code})`, plan.in_force ? "" : h("span", { class: "badge late" }, "fora de vigência")),
        h("ul", {}, ...plan.services.map((s) => h("li", { class: s.remaining === 0 ? "used-up" : "" }, s.summary))),
      ),
    );
    const history = prefill.history.map((incident) =>
      h(
        "li",
        {},
        h("a", { href: incident.jobs.length ? `#/atendimentos/${incident.jobs[0].id}` : "#/novo" }, `Evento #${incident.id}`),
        ` · ${dateTime(incident.opened_at)} · `,
        incident.jobs.map((j) => `${state.serviceName(j.service_type_id)} (${j.status_label})`).join(", ") || "sem atendimentos",
      ),
    );
    card.replaceChildren(
      h(
        "div",
        { class: "card-caller" },
        h("h2", {}, b.name || hit.beneficiary_name, prefill.vip ? h("span", { class: "badge vip" }, "VIP") : null),
        h("p", { class: "meta" }, `${formatDocument(b.document)} · ${prefill.client_name || hit.client_trade_name}`),
        b.phone || b.email ? h("p", {}, [b.phone, b.email].filter(Boolean).join(" · ")) : null,
        b.street ? h("p", {}, place({ street: b.street, number: b.number, city: b.city })) : null,
        v
          ? h(
              "p",
              { class: "vehicle" },
              ["Veículo:", formatPlate(v.plate), [v.make, v.model, v.year, v.colour].filter(Boolean).join(" ")].filter(Boolean).join(" "),
            )
          : null,
        h("h3", {}, "Planos e uso"),
        plans.length ? plans : h("p", { class: "hint" }, "Nenhum plano vigente."),
        h("h3", {}, `Eventos recentes (${prefill.incidents_total})`),
        history.length ? h("ul", { class: "history" }, history) : h("p", { class: "hint" }, "Nenhum evento anterior."),
        form,
      ),
      h("aside", { class: "script" }, h("h3", {}, "Script de atendimento"), prefill.operator_script ? h("pre", {}, prefill.operator_script) : h("p", { class: "hint" }, "O cliente não tem script cadastrado.")),
    );
    types.focus();
  };

  input.addEventListener("input", () => search(input.value));
  $("view").replaceChildren(
    h(
      "section",
      { class: "panel intake" },
      h("div", { class: "panel-head" }, h("h1", {}, "Novo Evento"), h("span", {}, "TMA ", clockEl)),
      input,
      hint,
      results,
      card,
    ),
  );
  input.focus();
  return { destroy: () => clearInterval(tick) };
}

// -- Atendimento ------------------------------------------------------------------------

const SOURCES = [
  ["search", "Endereço"],
  ["maps", "Link do Google Maps"],
  ["partner", "Estabelecimento parceiro"],
  ["beneficiary", "Endereço do beneficiário"],
];

/** One place picker (origin or destination): a source, what it resolved to, and a
 * pin on the form's map that can be dragged to correct the point. */
class PlacePicker {
  constructor(role, label, context) {
    this.role = role;
    this.context = context;
    this.value = null; // {payload, point, text}
    this.summary = h("p", { class: "place-summary", id: `${role}-summary` }, "Nenhum endereço escolhido.");
    this.body = h("div", { class: "source-body" });
    const tabs = SOURCES.map(([key, name]) =>
      h("button", { type: "button", class: "tab", dataset: { source: key }, onclick: () => this.show(key) }, name),
    );
    this.tabs = tabs;
    this.element = h(
      "fieldset",
      { class: "place", id: `${role}-place` },
      h("legend", {}, label),
      h("div", { class: "tabs-row" }, ...tabs),
      this.body,
      this.summary,
    );
    this.show("search");
  }

  show(source) {
    for (const tab of this.tabs) tab.classList.toggle("active", tab.dataset.source === source);
    if (source === "search") this.searchBody();
    else if (source === "maps") this.mapsBody();
    else if (source === "partner") this.partnerBody();
    else this.beneficiaryBody();
  }

  set(payload, point, text) {
    this.value = { payload, point, text };
    this.summary.textContent = text;
    this.context.placed(this);
  }

  clear() {
    this.value = null;
    this.summary.textContent = "Nenhum endereço escolhido.";
    this.context.placed(this);
  }

  /** The pin was dragged: the point is the operator's, the address fields stay. */
  moved(lat, lng) {
    if (!this.value) return;
    const address = this.value.address || {};
    this.value = {
      ...this.value,
      payload: {
        lat,
        lng,
        source: "manual",
        street: address.street || null,
        number: address.number || null,
        neighbourhood: address.neighbourhood || null,
        city: address.city || null,
        state: address.state || null,
        cep: address.cep || null,
        reference: address.reference || null,
      },
      point: { lat, lng },
    };
    this.summary.textContent = `${this.value.text} (ponto ajustado no mapa)`;
  }

  searchBody() {
    const input = h("input", {
      type: "search",
      id: `${this.role}-address`,
      placeholder: "Rua, número, bairro, cidade",
      autocomplete: "off",
      "aria-label": "Buscar endereço",
    });
    const list = h("ul", { class: "suggestions", id: `${this.role}-suggestions` });
    const run = debounce(async () => {
      if (input.value.trim().length < MIN_CHARS) {
        list.replaceChildren();
        return;
      }
      try {
        const found = await get(`/addresses/search?q=${encodeURIComponent(input.value)}&limit=8`);
        list.replaceChildren(
          ...found.addresses.map((a) =>
            h(
              "li",
              {},
              h(
                "button",
                {
                  type: "button",
                  onclick: () => {
                    list.replaceChildren();
                    input.value = a.one_line;
                    const payload = { lat: a.lat, lng: a.lng, source: a.source, street: a.street, number: a.number, neighbourhood: a.neighbourhood, city: a.city, state: a.state, cep: a.cep, reference: a.reference };
                    this.set(payload, { lat: a.lat, lng: a.lng }, a.one_line);
                    this.value.address = a;
                  },
                },
                a.one_line,
              ),
            ),
          ),
        );
        if (!found.addresses.length) list.append(h("li", { class: "hint" }, "Nenhum endereço encontrado."));
      } catch (e) {
        failed(e);
      }
    }, 200);
    input.addEventListener("input", run);
    this.body.replaceChildren(input, list);
  }

  mapsBody() {
    const input = h("input", {
      type: "url",
      id: `${this.role}-maps`,
      placeholder: "https://maps.app.goo.gl/… ou https://www.google.com/maps/…",
      "aria-label": "Link do Google Maps",
    });
    const use = h(
      "button",
      {
        type: "button",
        onclick: async () => {
          try {
            const found = await post("/addresses/from-maps-url", { url: input.value.trim() });
            const address = this.role === "destination" && found.route ? found.destination : found.origin;
            if (!address) {
              flash("O link não traz as coordenadas deste ponto.");
              return;
            }
            const text = `${address.one_line || `${address.lat}, ${address.lng}`}${found.from_viewport ? " (centro do mapa: confira o ponto)" : ""}`;
            this.set({ maps_url: input.value.trim() }, { lat: address.lat, lng: address.lng }, text);
            this.value.address = address;
          } catch (e) {
            failed(e);
          }
        },
      },
      "Usar link",
    );
    this.body.replaceChildren(input, use);
  }

  partnerBody() {
    const sites = this.context.partnerSites;
    const select = h(
      "select",
      { id: `${this.role}-partner`, "aria-label": "Estabelecimento parceiro" },
      h("option", { value: "" }, sites.length ? "Escolha o estabelecimento…" : "O cliente não tem estabelecimentos parceiros"),
      ...sites.map((s) => h("option", { value: s.id }, `${s.name} · ${place(s)}`)),
    );
    select.addEventListener("change", () => {
      const site = sites.find((s) => String(s.id) === select.value);
      if (!site) {
        this.clear();
        return;
      }
      this.set({ partner_site_id: site.id }, site.location, `${site.name}: ${place(site)}`);
      this.value.address = site;
    });
    this.body.replaceChildren(select);
  }

  beneficiaryBody() {
    const b = this.context.beneficiary;
    if (!b || !b.street) {
      this.body.replaceChildren(h("p", { class: "hint" }, "O beneficiário não tem endereço cadastrado."));
      return;
    }
    const text = place({ street: b.street, number: b.number, city: b.city });
    this.body.replaceChildren(
      h(
        "button",
        {
          type: "button",
          onclick: () => {
            this.set({ beneficiary: true }, b.location || null, text);
            this.value.address = b;
          },
        },
        `Usar ${text}`,
      ),
    );
  }
}

export function jobFormPage(state, incidentId, go) {
  const intake = state.intake && state.intake.incident.id === incidentId ? state.intake : null;
  const holder = h("section", { class: "panel intake" }, h("h1", {}, `Evento #${incidentId}: novo atendimento`), "Carregando…");
  $("view").replaceChildren(holder);
  const page = { destroy: () => {}, gone: false };
  page.destroy = () => {
    page.gone = true;
  };
  (async () => {
    try {
      const incident = intake ? intake.incident : await get(`/incidents/${incidentId}`);
      const prefill =
        intake?.prefill ||
        (await get(
          `/incidents/prefill?${incident.vehicle_id ? `vehicle_id=${incident.vehicle_id}` : `beneficiary_id=${incident.beneficiary_id}`}`,
        ));
      const sites = await get(`/clients/${incident.client_id}/partner_sites?page_size=200`);
      if (!page.gone) render(incident, prefill, sites.items);
    } catch (e) {
      holder.replaceChildren(h("h1", {}, `Evento #${incidentId}`), h("p", { class: "error" }, e.message));
    }
  })();

  const render = (incident, prefill, partnerSites) => {
    const b = prefill.beneficiary || {};
    const covered = new Map();
    for (const plan of prefill.coverage ? prefill.coverage.plans : []) {
      for (const s of plan.services) covered.set(s.service_type_id, s);
    }
    const kind = h("select", { id: "job-kind", "aria-label": "Tipo de atendimento" }, ...KINDS.map(([v, l]) => h("option", { value: v }, l)));
    const service = h(
      "select",
      { id: "job-service", "aria-label": "Serviço" },
      h("option", { value: "" }, "Serviço…"),
      h(
        "optgroup",
        { label: "Do plano" },
        ...[...covered.values()].map((s) => h("option", { value: s.service_type_id }, s.summary)),
      ),
      h(
        "optgroup",
        { label: "Avulsos (fora do plano)" },
        ...[...state.services.values()].filter((s) => !covered.has(s.id)).map((s) => h("option", { value: s.id }, s.name)),
      ),
    );
    const name = h("input", { id: "requester-name", required: true, value: b.name || "", "aria-label": "Nome do solicitante" });
    const phone = h("input", { id: "requester-phone", required: true, value: b.phone || "", "aria-label": "Telefone do solicitante" });
    const when = h("input", { id: "requested-at", type: "datetime-local", value: localInput(new Date()), "aria-label": "Data e hora" });
    const scheduled = h("input", { id: "scheduled-for", type: "datetime-local", "aria-label": "Agendar para" });
    const notes = h("textarea", { id: "notes", rows: 3, "aria-label": "Observações ao prestador" });
    const mapBox = h("div", { class: "form-map", id: "form-map" });
    const refusal = h("div", { class: "refusal", id: "refusal", role: "alert", hidden: true });
    const save = h("button", { type: "submit", id: "save-job" }, "Salvar atendimento");

    let map = null;
    const pins = new Map();
    const context = {
      partnerSites,
      beneficiary: { ...b, location: prefill.beneficiary?.location || null },
      placed: (picker) => drawPin(picker),
    };
    const origin = new PlacePicker("origin", "Origem", context);
    const destination = new PlacePicker("destination", "Destino", context);

    const drawPin = (picker) => {
      if (!map) return;
      const known = pins.get(picker.role);
      if (!picker.value || !picker.value.point) {
        if (known) known.remove();
        pins.delete(picker.role);
        frame();
        return;
      }
      const { lat, lng } = picker.value.point;
      if (known) known.setLatLng([lat, lng]);
      else {
        const pin = map.L.marker([lat, lng], {
          draggable: true,
          title: picker.role === "origin" ? "Origem" : "Destino",
          icon: map.L.divIcon({ className: `pin ${picker.role}`, html: picker.role === "origin" ? "A" : "B", iconSize: [26, 26] }),
        }).addTo(map.map);
        pin.on("dragend", () => {
          const at = pin.getLatLng();
          picker.moved(Number(at.lat.toFixed(6)), Number(at.lng.toFixed(6)));
        });
        pins.set(picker.role, pin);
      }
      frame();
    };

    const frame = () => {
      const points = [...pins.values()].map((pin) => pin.getLatLng());
      if (points.length === 1) map.map.setView(points[0], 15, { animate: false });
      else if (points.length > 1) {
        map.map.fitBounds(map.L.latLngBounds(points), { padding: [40, 40], maxZoom: 16, animate: false });
      }
    };

    import("./formmap.js").then(({ formMap }) => {
      if (page.gone) return;
      map = formMap(mapBox, state.config || {});
      drawPin(origin);
      drawPin(destination);
    });

    const form = h(
      "form",
      { class: "job-form", id: "job-form" },
      h("div", { class: "row" }, h("label", {}, "Tipo ", kind), h("label", {}, "Serviço ", service)),
      h("div", { class: "row" }, h("label", {}, "Solicitante ", name), h("label", {}, "Telefone ", phone)),
      h("div", { class: "row" }, h("label", {}, "Data e hora ", when), h("label", {}, "Agendar para ", scheduled)),
      h("label", {}, "Observações ao prestador ", notes),
      h("div", { class: "places" }, h("div", {}, origin.element, destination.element), mapBox),
      refusal,
      h("div", { class: "actions" }, save),
    );

    const body = (adHoc) => {
      const payload = {
        kind: kind.value,
        service_type_id: service.value ? Number(service.value) : null,
        ad_hoc: adHoc,
        requester: { name: name.value.trim(), phone: phone.value.trim() },
        requested_at: fromLocalInput(when.value),
        scheduled_for: fromLocalInput(scheduled.value),
        notes_for_provider: notes.value.trim() || null,
      };
      if (origin.value) payload.origin = origin.value.payload;
      if (destination.value) payload.destination = destination.value.payload;
      return payload;
    };

    const submit = async (adHoc) => {
      refusal.hidden = true;
      save.disabled = true;
      try {
        const job = await post(`/incidents/${incident.id}/jobs`, body(adHoc));
        flash(`Atendimento #${job.id} registrado.`, "ok");
        go(`#/atendimentos/${job.id}`);
      } catch (e) {
        save.disabled = false;
        if (e instanceof ApiError && e.status === 409 && !adHoc) {
          refusal.replaceChildren(
            h("p", {}, e.message),
            h(
              "button",
              {
                type: "button",
                id: "open-ad-hoc",
                onclick: (event) => {
                  event.currentTarget.disabled = true; // one chargeable job, however many clicks
                  submit(true);
                },
              },
              "Abrir como serviço avulso (cobrado)",
            ),
          );
          refusal.hidden = false;
        } else if (e instanceof ApiError && e.fields.length) {
          refusal.replaceChildren(h("ul", {}, ...e.fields.map((f) => h("li", {}, `${f.field}: ${f.message}`))));
          refusal.hidden = false;
        } else failed(e);
      }
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      submit(false);
    });
    kind.addEventListener("change", () => {
      const needsPlace = kind.value === "assistance";
      origin.element.disabled = !needsPlace;
      destination.element.disabled = !needsPlace;
    });
    holder.replaceChildren(
      h("div", { class: "panel-head" }, h("h1", {}, `Evento #${incident.id}: novo atendimento`), h("span", { class: "meta" }, `${b.name || ""} · ${prefill.client_name || ""}`)),
      form,
    );
    service.focus();
    page.destroy = () => {
      page.gone = true;
      if (map) map.map.remove();
    };
  };
  return page;
}
