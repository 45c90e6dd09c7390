// The operator's alerts: a late job, a provider late for its promise or an offer
// that expired unanswered beeps once (unless muted), whatever page is open.
//
// Browsers start an AudioContext made outside a user gesture "suspended" and keep it
// silent until resume() is called from one: the context is created (or resumed) on
// the operator's first click or key press, and again on any later one should the
// browser have suspended it. Pure of the DOM: main.js wires the gestures and the
// button; the audio and the storage are given, so that Vitest can play a browser.

export const MUTED_KEY = "acionar.muted";
export const ALERTED_MAX = 5000; // alerts remembered (not repeated) per page
const TONE_HZ = 880;
const TONE_S = 0.25;
const VOLUME = 0.08;

export class Alerts {
  /** `storage`: localStorage or alike; `makeAudio`: returns a new AudioContext
   * (or throws where there is none). */
  constructor({ storage, makeAudio }) {
    this.storage = storage;
    this.makeAudio = makeAudio;
    this.muted = storage.getItem(MUTED_KEY) === "1";
    this.audio = null;
    this.sounded = 0; // beeps played (for the tests and the curious)
    this.seen = new Set();
    this.order = [];
  }

  /** A user gesture: the one moment a browser lets a page start its sound. */
  unlock() {
    try {
      this.audio = this.audio || this.makeAudio();
      if (this.audio.state === "suspended") this.audio.resume().catch(() => {});
    } catch {
      this.audio = null; // no audio device: the colour alone alerts
    }
  }

  toggleMute() {
    this.muted = !this.muted;
    this.storage.setItem(MUTED_KEY, this.muted ? "1" : "0");
    return this.muted;
  }

  /** Alert once for `key` (a job's lateness in one status, an offer's expiry):
   * returns whether it was new. */
  alert(key) {
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    this.order.push(key);
    if (this.order.length > ALERTED_MAX) this.seen.delete(this.order.shift());
    this.beep();
    return true;
  }

  forget() {
    this.seen.clear();
    this.order = [];
  }

  /** One tone. Before any gesture the context is made anyway: a browser that
   * already trusts the site plays it; another keeps it suspended until the next
   * click or key press resumes it (unlock). */
  beep() {
    if (this.muted) return false;
    try {
      this.audio = this.audio || this.makeAudio();
      if (this.audio.state === "suspended") this.audio.resume().catch(() => {});
      const tone = this.audio.createOscillator();
      const gain = this.audio.createGain();
      tone.frequency.value = TONE_HZ;
      gain.gain.value = VOLUME;
      tone.connect(gain).connect(this.audio.destination);
      tone.start();
      tone.stop(this.audio.currentTime + TONE_S);
      this.sounded += 1;
      return true;
    } catch {
      return false; // no audio device: the colour alone alerts
    }
  }
}
