// The console's live link: /ws/panel with reconnection (exponential backoff with
// jitter), a watchdog for a silent socket, and a resynchronisation after each
// (re)connection so that nothing published while offline is missed.

export const HEARTBEAT_GRACE_MS = 70_000; // the server pings every 25 s
export const BACKOFF_MAX_MS = 30_000;

/** Delay before reconnection attempt `attempt` (0, 1, ...): full jitter in the
 * upper half of an exponential step, capped. */
export function backoff(attempt, random = Math.random) {
  const step = Math.min(BACKOFF_MAX_MS, 1000 * 2 ** Math.min(attempt, 10));
  return Math.round(step / 2 + (random() * step) / 2);
}

export class PanelLink {
  constructor({ onEvent, onPositions, onState, resync, verify }) {
    this.onEvent = onEvent;
    this.onPositions = onPositions;
    this.onState = onState;
    this.resync = resync;
    this.verify = verify;
    this.buffer = null; // events received while resynchronising
    this.attempt = 0;
    this.socket = null;
    this.stopped = false;
    this.watchdog = null;
    this.retry = null;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.watchdog);
    clearTimeout(this.retry);
    if (this.socket) this.socket.close();
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/panel`);
    this.socket = socket;
    socket.onopen = async () => {
      this.feed();
      this.buffer = [];
      try {
        await this.resync();
      } catch {
        this.buffer = null;
        socket.close(); // try again from the start, backing off
        return;
      }
      const held = this.buffer;
      this.buffer = null;
      for (const event of held) this.onEvent(event);
      this.attempt = 0; // only a connection that caught up counts as a success
      this.onState("online");
    };
    socket.onmessage = (message) => {
      this.feed();
      let data;
      try {
        data = JSON.parse(message.data);
      } catch {
        return;
      }
      if (data.type === "event") {
        if (this.buffer) this.buffer.push(data.event);
        else this.onEvent(data.event);
      }
      else if (data.type === "positions") this.onPositions(data.positions);
    };
    socket.onclose = (close) => {
      clearTimeout(this.watchdog);
      if (this.stopped) return;
      if (close.code === 4001) {
        this.onState("signed-out");
        return;
      }
      this.onState("offline");
      // A refused handshake (the session ended) reaches the page as a close without
      // a code: after a second failure, ask the HTTP API.
      if (this.attempt >= 1 && this.verify) this.verify();
      this.retry = setTimeout(() => this.connect(), backoff(this.attempt++));
    };
  }

  feed() {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => this.socket && this.socket.close(), HEARTBEAT_GRACE_MS);
  }
}
