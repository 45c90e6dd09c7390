import { describe, expect, it } from "vitest";
import { ALERTED_MAX, Alerts, MUTED_KEY } from "./alerts.js";

function memoryStorage(initial = {}) {
  const data = new Map(Object.entries(initial));
  return { getItem: (k) => (data.has(k) ? data.get(k) : null), setItem: (k, v) => data.set(k, v), data };
}

/** An AudioContext as a browser makes one outside a gesture: suspended. */
function fakeAudio() {
  const made = { contexts: [] };
  made.factory = () => {
    const node = () => ({ connect: (next) => next || node(), start() {}, stop() {}, frequency: {}, gain: {} });
    const context = {
      state: "suspended",
      resumed: 0,
      currentTime: 0,
      destination: {},
      resume() {
        this.resumed += 1;
        this.state = "running";
        return Promise.resolve();
      },
      createOscillator: node,
      createGain: node,
    };
    made.contexts.push(context);
    return context;
  };
  return made;
}

describe("alerts", () => {
  it("creates and resumes the audio on the first gesture, once", () => {
    const audio = fakeAudio();
    const alerts = new Alerts({ storage: memoryStorage(), makeAudio: audio.factory });
    expect(audio.contexts).toHaveLength(0);
    alerts.unlock();
    alerts.unlock();
    expect(audio.contexts).toHaveLength(1);
    expect(audio.contexts[0].state).toBe("running");
    expect(audio.contexts[0].resumed).toBe(1);
  });

  it("resumes a context the browser suspended again", () => {
    const audio = fakeAudio();
    const alerts = new Alerts({ storage: memoryStorage(), makeAudio: audio.factory });
    alerts.unlock();
    audio.contexts[0].state = "suspended";
    alerts.unlock();
    expect(audio.contexts[0].resumed).toBe(2);
  });

  it("beeps once per key, and not when muted (remembered in the storage)", () => {
    const storage = memoryStorage();
    const alerts = new Alerts({ storage, makeAudio: fakeAudio().factory });
    alerts.unlock();
    expect(alerts.alert("1:open")).toBe(true);
    expect(alerts.alert("1:open")).toBe(false);
    expect(alerts.sounded).toBe(1);
    expect(alerts.toggleMute()).toBe(true);
    expect(storage.data.get(MUTED_KEY)).toBe("1");
    expect(alerts.alert("offer:9:expired")).toBe(true); // still an alert: the colour shows it
    expect(alerts.sounded).toBe(1);
    expect(new Alerts({ storage, makeAudio: fakeAudio().factory }).muted).toBe(true);
  });

  it("stays silent without an audio device", () => {
    const alerts = new Alerts({
      storage: memoryStorage(),
      makeAudio: () => {
        throw new Error("no device");
      },
    });
    alerts.unlock();
    expect(alerts.alert("1:open")).toBe(true);
    expect(alerts.sounded).toBe(0);
  });

  it("remembers a bounded number of alerts", () => {
    const alerts = new Alerts({ storage: memoryStorage(), makeAudio: fakeAudio().factory });
    for (let i = 0; i <= ALERTED_MAX; i += 1) alerts.alert(`k${i}`);
    expect(alerts.seen.size).toBe(ALERTED_MAX);
    expect(alerts.alert("k0")).toBe(true); // the oldest was forgotten
  });
});
