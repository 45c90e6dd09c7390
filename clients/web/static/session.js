// Sign in and out of the landing page with the API's session cookie.
"use strict";

const state = { csrf: null };

function show(id, visible) {
  document.getElementById(id).hidden = !visible;
}

function signedIn(me) {
  state.csrf = me.csrf_token;
  const who = document.getElementById("who");
  who.textContent = `${me.name} · ${me.role}`;
  show("who", true);
  show("logout", true);
  show("login-card", false);
  show("search-card", true);
  document.dispatchEvent(new CustomEvent("acionar:signed-in", { detail: me }));
}

function signedOut() {
  state.csrf = null;
  show("who", false);
  show("logout", false);
  show("login-card", true);
  show("search-card", false);
}

async function login(event) {
  event.preventDefault();
  const error = document.getElementById("login-error");
  error.hidden = true;
  const response = await fetch("/api/v1/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      login: document.getElementById("login").value,
      password: document.getElementById("password").value,
    }),
  });
  const body = await response.json();
  if (response.ok) {
    signedIn(body);
  } else {
    error.textContent = body.error ? body.error.message : "Não foi possível entrar.";
    error.hidden = false;
  }
}

async function logout() {
  await fetch("/api/v1/auth/logout", { method: "POST", headers: { "X-CSRF-Token": state.csrf } });
  signedOut();
}

async function restore() {
  const response = await fetch("/api/v1/auth/me");
  if (response.ok) signedIn(await response.json());
  else signedOut();
}

document.getElementById("login-form").addEventListener("submit", login);
document.getElementById("logout").addEventListener("click", logout);
restore();
