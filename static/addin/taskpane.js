// Beacon's Outlook task pane: asks the compose-context API what the Log and Track boxes
// show (C1, C2), then registers the email and applies the BCC address and tracked HTML.
// Outside Outlook (no Office.js host) it runs in preview mode with a small form.
"use strict";

const REASONS = {
  tracked: "Tracked",
  not_requested: "Track is off",
  tracking_disabled: "Tracking is switched off for the account",
  never_log: "On a never-log list",
  not_a_contact: "Not a contact yet: cannot be tracked under data privacy",
  no_legal_basis: "No legal basis for processing: cannot be tracked",
  other_recipient_not_trackable: "Another recipient cannot be tracked",
};

const state = { context: null, draft: null };
const $ = (id) => document.getElementById(id);
const csrf = () => document.querySelector("[name=csrfmiddlewaretoken]").value;
const split = (text) => text.split(/[,;\s]+/).filter(Boolean);

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
    body: JSON.stringify(body),
  });
  const data = await response.json();
  if (!response.ok) throw new Error(`${data.error}: ${JSON.stringify(data.detail)}`);
  return data;
}

function inOutlook() {
  return typeof Office !== "undefined" && Office.context && Office.context.mailbox;
}

function outlookGet(getter) {
  return new Promise((resolve, reject) =>
    getter((result) => (result.status === "succeeded" ? resolve(result.value) : reject(result.error))),
  );
}

async function readDraft() {
  const item = Office.context.mailbox.item;
  const addresses = (list) => list.map((r) => r.emailAddress);
  const [to, cc, bcc, from, subject, html] = await Promise.all([
    outlookGet((cb) => item.to.getAsync(cb)),
    outlookGet((cb) => item.cc.getAsync(cb)),
    outlookGet((cb) => item.bcc.getAsync(cb)),
    outlookGet((cb) => item.from.getAsync(cb)),
    outlookGet((cb) => item.subject.getAsync(cb)),
    outlookGet((cb) => item.body.getAsync(Office.CoercionType.Html, cb)),
  ]);
  return { from_address: from.emailAddress, to: addresses(to), cc: addresses(cc), bcc: addresses(bcc), subject, html };
}

function recordBox(kind, record) {
  const checked = record.selected ? "checked" : "";
  return `<label><input type="checkbox" data-kind="${kind}" value="${record.id}" ${checked}> ${escapeHtml(record.name)}</label>`;
}

function escapeHtml(text) {
  const div = document.createElement("div");
  div.textContent = text;
  return div.innerHTML;
}

function render(context) {
  state.context = context;
  $("boxes").hidden = false;
  const log = $("log");
  log.checked = context.log.default;
  log.disabled = !context.log.allowed || context.log.locked;
  $("log-reason").textContent = context.log.allowed ? "" : "This address is not one of your sending identities.";
  const track = $("track");
  track.checked = context.track.default;
  track.disabled = !context.track.enabled || context.track.locked;
  $("track-label").textContent = context.track.label;
  $("anonymous-notice").textContent = context.anonymous_notice;
  $("recipients").innerHTML = context.recipients
    .map((r) => {
      const who = r.contact ? escapeHtml(r.contact.name) : r.new_contact ? "New contact" : "Not logged";
      const records = [
        r.contact ? recordBox("contacts", { id: r.contact.id, name: r.contact.name, selected: context.associate.contacts }) : "",
        r.company ? recordBox("companies", r.company) : "",
        ...r.deals.map((d) => recordBox("deals", d)),
        ...r.tickets.map((t) => recordBox("tickets", t)),
      ].join("<br>");
      return `<li><strong>${escapeHtml(r.email)}</strong> · ${who}
        <div class="muted">${REASONS[r.track_reason] || r.track_reason}</div>
        <div class="records">${records}</div></li>`;
    })
    .join("");
}

function chosenAssociations() {
  const chosen = { contacts: [], companies: [], deals: [], tickets: [] };
  document.querySelectorAll("#recipients input[type=checkbox]:checked").forEach((box) => {
    const id = Number(box.value);
    if (!chosen[box.dataset.kind].includes(id)) chosen[box.dataset.kind].push(id);
  });
  return chosen;
}

async function apply() {
  const draft = inOutlook() ? await readDraft() : state.draft;
  const body = { ...draft, log: $("log").checked, track: $("track").checked, associations: chosenAssociations() };
  const result = await post("/api/v1/emails/", body);
  if (inOutlook()) {
    const item = Office.context.mailbox.item;
    const bcc = result.log && result.log.bcc_address;
    if (bcc) await outlookGet((cb) => item.bcc.addAsync([bcc], cb));
    if (result.tracked) await outlookGet((cb) => item.body.setAsync(result.html, { coercionType: Office.CoercionType.Html }, cb));
  }
  $("status").textContent = `Ready: ${result.tracked ? "tracked" : "not tracked"}${result.log ? ", will be logged" : ""}.`;
  return result;
}

async function refresh(draft) {
  state.draft = draft;
  render(await post("/api/v1/addin/compose-context/", { from_address: draft.from_address, to: draft.to, cc: draft.cc, bcc: draft.bcc }));
}

function startPreview() {
  const form = $("preview");
  form.hidden = false;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    refresh({
      from_address: data.get("from_address"),
      to: split(data.get("to")),
      cc: split(data.get("cc")),
      bcc: [],
      subject: "",
      html: "",
    }).catch((error) => ($("status").textContent = error.message));
  });
}

document.addEventListener("DOMContentLoaded", () => {
  $("apply").addEventListener("click", () => apply().catch((error) => ($("status").textContent = error.message)));
  if (typeof Office === "undefined") return startPreview();
  Office.onReady(() => {
    if (!inOutlook()) return startPreview();
    const item = Office.context.mailbox.item;
    const reload = () => readDraft().then(refresh).catch((error) => ($("status").textContent = error.message));
    item.addHandlerAsync(Office.EventType.RecipientsChanged, reload);
    reload();
  });
});
