// Beacon's task pane: shows the Log and Track boxes and the association picker for the
// draft (C1, C2) and records the rep's choices in the item as they change; the send
// handler (beacon-addin.js) acts on them at Send, with the pane open or closed.
// Outside Outlook (no mailbox) it is a preview that writes nothing unless confirmed.
"use strict";

(function () {
  const B = window.BeaconAddin;
  const $ = (id) => document.getElementById(id);
  const base = document.body.dataset.baseUrl;
  const state = { context: null, rows: [], item: null, auth: null, preview: null };

  const status = (text) => ($("status").textContent = text);
  const fail = (error) => status(error.message || String(error));

  function inOutlook() {
    return typeof Office !== "undefined" && Office.context && Office.context.mailbox && Office.context.mailbox.item;
  }

  // -- Sign-in through the Office dialog ----------------------------------------------

  function openSignIn() {
    const url = document.body.dataset.signInUrl;
    Office.context.ui.displayDialogAsync(url, { height: 60, width: 30 }, (result) => {
      if (result.status !== "succeeded") return fail(result.error || "The sign-in window did not open.");
      const dialog = result.value;
      dialog.addEventHandler(Office.EventType.DialogMessageReceived, async (arg) => {
        dialog.close();
        const message = JSON.parse(arg.message);
        await B.signIn(message.token, message.base_url || base);
        start();
      });
    });
  }

  async function signOut() {
    if (state.auth) await B.request(state.auth, "DELETE", "/api/v1/addin/tokens/current/").catch(() => undefined);
    await B.signOut();
    state.auth = null;
    start();
  }

  // -- Rendering ----------------------------------------------------------------------

  const KIND_LABELS = { contacts: "contact", companies: "company", deals: "deal", tickets: "ticket", new_contact: "", dropped: "not logged" };

  function rowHtml(row, index) {
    const id = `pick-${index}`;
    const disabled = row.disabled ? "disabled" : "";
    const checked = row.selected ? "checked" : "";
    const reason = row.reason ? `<span class="reason muted">${escapeHtml(row.reason)}</span>` : "";
    return `<li><input type="checkbox" id="${id}" data-key="${escapeHtml(`${row.kind}:${row.id}`)}" ${checked} ${disabled}>
      <label for="${id}">${escapeHtml(row.name)}</label> <span class="kind muted">${KIND_LABELS[row.kind]}</span>${reason}</li>`;
  }

  function escapeHtml(text) {
    const div = document.createElement("div");
    div.textContent = String(text);
    return div.innerHTML;
  }

  function render(context, choices) {
    state.context = context;
    state.rows = B.pickerRows(context, context.log.bcc_address);
    const boxes = B.boxes(context, choices);
    $("boxes").hidden = false;
    for (const name of ["log", "track"]) {
      $(name).checked = boxes[name].checked;
      $(name).disabled = boxes[name].disabled;
      $(`${name}-reason`).textContent = boxes[name].reason;
    }
    $("track-label").textContent = boxes.track.label;
    $("anonymous-notice").textContent = boxes.notice;
    $("picker").innerHTML = state.rows.map(rowHtml).join("");
    if (choices && choices.associations) {
      const chosen = new Set();
      for (const [kind, ids] of Object.entries(choices.associations)) ids.forEach((id) => chosen.add(`${kind}:${id}`));
      const skipped = new Set(choices.skip_new_contacts || []);
      document.querySelectorAll("#picker input").forEach((box) => {
        const [kind, id] = box.dataset.key.split(/:(.*)/s);
        box.checked = kind === "new_contact" ? !skipped.has(id) : chosen.has(box.dataset.key);
      });
    }
    $("picker-box").disabled = !$("log").checked;
  }

  function currentChoices() {
    const ticked = new Set([...document.querySelectorAll("#picker input:checked")].map((box) => box.dataset.key));
    return B.choicesFrom(state.rows, ticked, $("log").checked, $("track").checked);
  }

  async function remember() {
    $("picker-box").disabled = !$("log").checked;
    if (state.item) await B.saveChoices(state.item, currentChoices());
  }

  // -- Outlook ------------------------------------------------------------------------

  async function refresh() {
    const recipients = await B.readRecipients(state.item);
    const context = await B.request(state.auth, "POST", "/api/v1/addin/compose-context/", recipients);
    render(context, await B.loadChoices(state.item));
    await remember();
  }

  async function applyNow() {
    await remember();
    const done = await B.registerAndApply(state.item, state.auth, currentChoices());
    status(done.registered ? `Applied: ${done.track ? "tracked" : "not tracked"}${done.log ? ", will be logged" : ""}.` : "Nothing to apply: Log and Track are off.");
  }

  // -- Preview in a plain browser -----------------------------------------------------

  function startPreview() {
    const form = $("preview");
    form.hidden = false;
    $("at-send").textContent = "Preview: nothing is registered unless you press Register.";
    $("apply").textContent = "Register";
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const split = (text) => String(text || "").split(/[,;\s]+/).filter(Boolean);
      state.preview = { from_address: data.get("from_address") || undefined, to: split(data.get("to")), cc: split(data.get("cc")), bcc: [] };
      B.request(state.auth, "POST", "/api/v1/addin/compose-context/", state.preview)
        .then((context) => render(context, null))
        .catch(fail);
    });
  }

  async function registerPreview() {
    if (!window.confirm("Register this email with Beacon now?")) return;
    const choices = currentChoices();
    const result = await B.request(state.auth, "POST", "/api/v1/emails/", { ...state.preview, subject: "", html: "", log: choices.log, track: choices.track, associations: choices.log ? choices.associations : null, skip_new_contacts: choices.skip_new_contacts });
    status(`Registered as email ${result.id}.`);
  }

  // -- Start --------------------------------------------------------------------------

  async function start() {
    state.auth = await B.credentials();
    $("signed-out").hidden = Boolean(state.auth);
    $("sign-out").hidden = !state.auth;
    $("boxes").hidden = true;
    if (!state.auth) return;
    const me = await B.request(state.auth, "GET", "/api/v1/addin/tokens/current/").catch(async (error) => {
      if (error.status === 401) await B.signOut(); // revoked elsewhere
      throw error;
    });
    $("who").textContent = me.name;
    if (inOutlook()) {
      state.item = Office.context.mailbox.item;
      await refresh();
    } else {
      startPreview();
    }
  }

  // The preview's sign-in window (no Office dialog in a plain browser).
  window.addEventListener("message", (event) => {
    if (event.origin !== window.location.origin || !event.data || !event.data.beaconSignIn) return;
    const message = JSON.parse(event.data.beaconSignIn);
    B.signIn(message.token, message.base_url || base).then(start).catch(fail);
  });

  document.addEventListener("DOMContentLoaded", () => {
    $("sign-in").addEventListener("click", () => (inOutlook() ? openSignIn() : window.open(document.body.dataset.signInUrl)));
    $("sign-out").addEventListener("click", () => signOut().catch(fail));
    $("apply").addEventListener("click", () => (state.item ? applyNow() : registerPreview()).catch(fail));
    $("log").addEventListener("change", () => remember().catch(fail));
    $("track").addEventListener("change", () => remember().catch(fail));
    $("picker").addEventListener("change", () => remember().catch(fail));
    const ready = typeof Office !== "undefined" ? Office.onReady() : Promise.resolve();
    ready.then(() => {
      if (inOutlook()) Office.context.mailbox.item.addHandlerAsync(Office.EventType.RecipientsChanged, () => refresh().catch(fail));
      return start();
    }).catch((error) => {
      start().catch(() => undefined);
      fail(error);
    });
  });
})();
