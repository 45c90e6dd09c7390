import { describe, expect, it } from "vitest";
import { formatDocument, formatPlate, fromLocalInput, localInput } from "./intake.js";

describe("what the operator reads back on the phone", () => {
  it("writes old and Mercosul plates with the dash", () => {
    expect(formatPlate("ABC1234")).toBe("ABC-1234");
    expect(formatPlate("ABC1D23")).toBe("ABC-1D23");
    expect(formatPlate("X")).toBe("X");
  });
  it("writes CPF, numeric and alphanumeric CNPJ with their punctuation", () => {
    expect(formatDocument("52998224725")).toBe("529.982.247-25");
    expect(formatDocument("11222333000181")).toBe("11.222.333/0001-81");
    expect(formatDocument("12ABC34501DE35")).toBe("12.ABC.345/01DE-35");
  });
  it("round-trips a date through the datetime-local input in local time", () => {
    const at = new Date(2026, 11, 2, 3, 7);
    expect(localInput(at)).toBe("2026-12-02T03:07");
    expect(fromLocalInput(localInput(at))).toBe(at.toISOString());
    expect(fromLocalInput("")).toBeNull();
  });
});
