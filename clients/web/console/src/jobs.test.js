import { describe, expect, it } from "vitest";
import { Operations, averageArrivalMinutes, averageResponseMinutes } from "./jobs.js";

function job(id, status, updated = "2026-12-02T03:00:00Z") {
  return { id, status, updated_at: updated, created_at: "2026-12-02T02:00:00Z", status_changed_at: updated };
}

describe("Operations", () => {
  it("moves a job from the dispatch panel to the tracking panel on its status event", () => {
    const ops = new Operations();
    ops.loadJobs([job(1, "dispatching"), job(2, "open")]);
    expect(ops.waiting().map((j) => j.id)).toEqual([1, 2]);
    ops.apply({ type: "job.status", event_id: 10, seq: 5, job: job(1, "assigned", "2026-12-02T03:01:00Z") });
    expect(ops.waiting().map((j) => j.id)).toEqual([2]);
    expect(ops.following().map((j) => j.id)).toEqual([1]);
    expect(ops.lastSeq).toBe(5);
  });

  it("keeps inquiries and thefts out of the dispatch queue", () => {
    const ops = new Operations();
    ops.loadJobs([job(1, "open"), { ...job(2, "open"), kind: "inquiry" }]);
    ops.apply({ type: "job.created", event_id: 3, seq: 3, job: { ...job(3, "open"), kind: "theft" } });
    ops.apply({ type: "job.created", event_id: 4, seq: 4, job: { ...job(4, "open"), kind: "assistance" } });
    expect(ops.waiting().map((j) => j.id)).toEqual([1, 4]);
  });

  it("applies each event once and never lets an older view win", () => {
    const ops = new Operations();
    let changes = 0;
    ops.onChange(() => changes++);
    const newer = job(1, "en_route", "2026-12-02T03:05:00Z");
    ops.apply({ type: "job.status", event_id: 1, seq: 1, job: newer });
    ops.apply({ type: "job.status", event_id: 1, seq: 1, job: newer });
    ops.apply({ type: "job.status", event_id: 2, seq: 2, job: job(1, "assigned", "2026-12-02T03:01:00Z") });
    expect(ops.jobs.get(1).status).toBe("en_route");
    expect(changes).toBe(1);
  });

  it("keeps the newest version of each offer and counts attempts", () => {
    const ops = new Operations();
    const offer = { id: 7, job_id: 1, status: "pending", version: 1 };
    ops.apply({ type: "offer.created", event_id: 3, offer });
    ops.apply({ type: "offer.status", event_id: 5, offer: { ...offer, status: "refused", version: 2 } });
    ops.apply({ type: "offer.status", event_id: 4, offer: { ...offer, status: "delivered", version: 1 } });
    expect(ops.offersOf(1)[0].status).toBe("refused");
    expect(ops.attempts(1)).toBe(1);
    expect(ops.openOffers(1)).toEqual([]);
  });

  it("forgets everything for the next operator", () => {
    const ops = new Operations();
    ops.apply({ type: "job.status", event_id: 1, seq: 4, job: job(1, "open") });
    ops.apply({ type: "offer.created", event_id: 2, offer: { id: 3, job_id: 1, status: "pending", version: 1 } });
    ops.reset();
    expect([ops.jobs.size, ops.offersOf(1).length, ops.lastSeq]).toEqual([0, 0, 0]);
    expect(ops.apply({ type: "job.status", event_id: 1, seq: 4, job: job(1, "open") })).toBe(true);
  });
});

describe("averages", () => {
  it("averages response and arrival minutes over what is known", () => {
    const offers = [
      { created_at: "2026-12-02T03:00:00Z", answered_at: "2026-12-02T03:02:00Z" },
      { created_at: "2026-12-02T03:00:00Z", answered_at: "2026-12-02T03:04:00Z" },
      { created_at: "2026-12-02T03:00:00Z", answered_at: null },
    ];
    expect(averageResponseMinutes(offers)).toBe(3);
    expect(averageArrivalMinutes([{ created_at: "2026-12-02T03:00:00Z", arrived_at: "2026-12-02T03:30:00Z" }])).toBe(30);
    expect(averageArrivalMinutes([{ created_at: "2026-12-02T03:00:00Z", arrived_at: null }])).toBeNull();
  });
});
