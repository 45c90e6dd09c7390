// Small DOM helpers shared by the console's pages.

import { ApiError } from "./api.js";

/** An element: attributes (on* are listeners), then children (strings or nodes). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const $ = (id) => document.getElementById(id);

export function flash(message, kind = "error") {
  const note = h("div", { class: `flash ${kind}`, role: kind === "error" ? "alert" : "status" }, message);
  document.body.append(note);
  setTimeout(() => note.remove(), 6000);
}

export function failed(error) {
  flash(error instanceof ApiError ? error.message : "Algo deu errado. Tente de novo.");
}

/** Calls `fn` once the calls stopped for `ms`. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
