// The console's state of operations: jobs and their offers, kept from the API's
// snapshots and the panel events (docs/protocol.md, "Panel events"). Pure: no DOM,
// no network; main.js feeds it and renders from it.

import { AWAITING_PROVIDER, OPEN_OFFERS, WITH_PROVIDER } from "./format.js";

const DEDUPE_WINDOW = 5000;

export class Operations {
  constructor() {
    this.jobs = new Map();
    this.offers = new Map(); // offer id -> offer view
    this.offersByJob = new Map(); // job id -> Map(offer id -> offer view)
    this.runs = new Map(); // job id -> dispatch run view
    this.lastSeq = 0;
    this.seen = new Set();
    this.seenOrder = [];
    this.listeners = new Set();
  }

  /** Forget everything (another operator signs in on this page). */
  reset() {
    this.jobs.clear();
    this.offers.clear();
    this.offersByJob.clear();
    this.runs.clear();
    this.lastSeq = 0;
    this.seen.clear();
    this.seenOrder = [];
  }

  onChange(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  changed(what) {
    for (const listener of this.listeners) listener(what);
  }

  /** A snapshot of the active jobs: they replace what was known as active (a job
   * that ended while the page was away leaves the panels). */
  loadJobs(jobs) {
    const fresh = new Set(jobs.map((j) => j.id));
    for (const [id, job] of this.jobs) {
      if ((AWAITING_PROVIDER.has(job.status) || WITH_PROVIDER.has(job.status)) && !fresh.has(id)) {
        this.jobs.delete(id);
      }
    }
    for (const job of jobs) this.putJob(job);
    this.changed({ kind: "snapshot" });
  }

  loadOffers(jobId, offers) {
    for (const offer of offers) this.putOffer(offer);
    this.changed({ kind: "offers", jobId });
  }

  putOffer(offer) {
    const known = this.offers.get(offer.id);
    if (known && known.version > offer.version) return false;
    this.offers.set(offer.id, offer);
    let ofJob = this.offersByJob.get(offer.job_id);
    if (!ofJob) {
      ofJob = new Map();
      this.offersByJob.set(offer.job_id, ofJob);
    }
    ofJob.set(offer.id, offer);
    return true;
  }

  putJob(job) {
    const known = this.jobs.get(job.id);
    // An older view (a repeat, or the snapshot raced an event) never wins.
    if (known && Date.parse(known.updated_at) > Date.parse(job.updated_at)) return false;
    this.jobs.set(job.id, job);
    return true;
  }

  /** Apply one panel event; returns whether it was new. */
  apply(event) {
    if (event.event_id !== undefined && event.event_id !== null) {
      if (this.seen.has(event.event_id)) return false;
      this.seen.add(event.event_id);
      this.seenOrder.push(event.event_id);
      if (this.seenOrder.length > DEDUPE_WINDOW) this.seen.delete(this.seenOrder.shift());
    }
    if (typeof event.seq === "number" && event.seq > this.lastSeq) this.lastSeq = event.seq;
    switch (event.type) {
      case "job.created":
      case "job.updated":
      case "job.status":
        if (event.job && this.putJob(event.job)) {
          this.changed({ kind: "job", job: event.job, type: event.type });
        }
        return true;
      case "offer.created":
      case "offer.status":
        if (event.offer) {
          if (this.putOffer(event.offer)) {
            this.changed({ kind: "offer", offer: event.offer, type: event.type });
          }
        }
        return true;
      case "dispatch.run":
        if (event.run) {
          this.runs.set(event.run.job_id, event.run);
          this.changed({ kind: "run", run: event.run });
        }
        return true;
      default:
        return true;
    }
  }

  /** Jobs waiting for a provider, the longest waiting first (inquiries and thefts
   * need none: they never queue for dispatch). */
  waiting() {
    return [...this.jobs.values()]
      .filter((j) => AWAITING_PROVIDER.has(j.status) && (j.kind ?? "assistance") === "assistance")
      .sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
  }

  /** Jobs a provider is on, the oldest change first. */
  following() {
    return [...this.jobs.values()]
      .filter((j) => WITH_PROVIDER.has(j.status))
      .sort((a, b) => Date.parse(a.status_changed_at) - Date.parse(b.status_changed_at));
  }

  offersOf(jobId) {
    const ofJob = this.offersByJob.get(jobId);
    return ofJob ? [...ofJob.values()].sort((a, b) => a.id - b.id) : [];
  }

  /** Offers made for the job (every one, closed ones too): its attempts. */
  attempts(jobId) {
    return this.offersOf(jobId).length;
  }

  openOffers(jobId) {
    return this.offersOf(jobId).filter((o) => OPEN_OFFERS.has(o.status));
  }
}

/** Average of the minutes each job took from creation to its first offer being
 * answered (the response time), over the answered offers known. */
export function averageResponseMinutes(offers) {
  const answered = offers.filter((o) => o.answered_at && o.created_at);
  if (!answered.length) return null;
  const total = answered.reduce((sum, o) => sum + (Date.parse(o.answered_at) - Date.parse(o.created_at)), 0);
  return total / answered.length / 60000;
}

/** Average minutes from a job's registration to its provider's arrival, over the
 * jobs known with an arrival. */
export function averageArrivalMinutes(jobs) {
  const arrived = jobs.filter((j) => j.arrived_at && j.created_at);
  if (!arrived.length) return null;
  const total = arrived.reduce((sum, j) => sum + (Date.parse(j.arrived_at) - Date.parse(j.created_at)), 0);
  return total / arrived.length / 60000;
}
