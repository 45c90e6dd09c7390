import { describe, expect, it } from "vitest";
import { BACKOFF_MAX_MS, backoff } from "./live.js";

describe("backoff", () => {
  it("grows exponentially within the upper half of each step", () => {
    expect(backoff(0, () => 0)).toBe(500);
    expect(backoff(0, () => 1)).toBe(1000);
    expect(backoff(3, () => 0)).toBe(4000);
  });
  it("is capped however long the server stays away", () => {
    expect(backoff(40, () => 1)).toBe(BACKOFF_MAX_MS);
  });
});
