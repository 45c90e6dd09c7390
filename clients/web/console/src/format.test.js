import { describe, expect, it } from "vitest";
import { countdown, duration, lateness, latePromise, minutesSince, money, place } from "./format.js";

const T0 = Date.parse("2026-12-02T03:00:00Z");

describe("times", () => {
  it("counts whole minutes waited, never negative", () => {
    expect(minutesSince("2026-12-02T02:45:30Z", T0)).toBe(14);
    expect(minutesSince("2026-12-02T03:05:00Z", T0)).toBe(0);
  });
  it("writes durations as operators read them", () => {
    expect(duration(5)).toBe("5 min");
    expect(duration(65)).toBe("1 h 05");
    expect(duration(60 * 27)).toBe("1 d 3 h");
  });
  it("counts down to zero and stops there", () => {
    expect(countdown(75)).toBe("01:15");
    expect(countdown(-3)).toBe("00:00");
  });
});

describe("lateness", () => {
  const job = {
    status: "dispatching",
    dispatch_due_at: "2026-12-02T02:50:00Z",
    arrival_due_at: "2026-12-02T03:30:00Z",
  };
  it("is computed from the due times and the clock", () => {
    expect(lateness(job, T0)).toEqual(["dispatch"]);
    expect(lateness(job, Date.parse("2026-12-02T02:49:00Z"))).toEqual([]);
    expect(lateness(job, Date.parse("2026-12-02T03:31:00Z"))).toEqual(["dispatch", "arrival"]);
  });
  it("stops counting the dispatch due time once a provider has the job", () => {
    expect(lateness({ ...job, status: "en_route" }, T0)).toEqual([]);
    expect(lateness({ ...job, status: "on_site" }, Date.parse("2026-12-02T04:00:00Z"))).toEqual([]);
  });
  it("knows a provider late for its own promise", () => {
    const promised = { status: "en_route", promised_at: "2026-12-02T02:59:00Z", arrived_at: null };
    expect(latePromise(promised, T0)).toBe(true);
    expect(latePromise({ ...promised, arrived_at: "2026-12-02T02:58:00Z" }, T0)).toBe(false);
  });
});

describe("values", () => {
  it("formats money in reais and places in one line", () => {
    expect(money("123.5").replace(/\s/g, " ")).toBe("R$ 123,50");
    expect(money(null)).toBe("—");
    expect(place({ street: "Rua A", number: "10", city: "São Paulo" })).toBe("Rua A, 10, São Paulo");
    expect(place(null)).toBe("—");
  });
});
