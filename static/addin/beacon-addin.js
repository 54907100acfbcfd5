// Beacon's Outlook add-in logic, shared by the task pane and the send handler.
//
// One classic script, not an ES module: classic Outlook on Windows runs the send handler
// in a JavaScript-only runtime that loads exactly one file (the manifest's Override) and
// has no module loader. Node's tests `require` it; browsers get `window.BeaconAddin`.
//
// What it does at Send (OnMessageSend, Smart Alerts in SoftBlock mode): read the rep's
// choices from the item's session data (the pane wrote them, or the defaults apply),
// register the email once per draft, put the tracked body in, add the BCC address once,
// set the X-Beacon-Registration header, mark it sent and let it go. When Beacon cannot be
// reached in time the email goes untracked and the rep gets a notification saying why.
(function (root, factory) {
  const api = factory(root);
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.BeaconAddin = api;
  // Event-based activation: connect the manifest's FunctionName to the handler.
  if (root.Office && root.Office.actions && root.Office.actions.associate) {
    root.Office.actions.associate("onMessageSendHandler", api.onMessageSendHandler);
  }
})(typeof self !== "undefined" ? self : globalThis, function (root) {
  "use strict";

  const KEYS = { choices: "beacon.choices", draft: "beacon.draft" };
  const STORAGE_KEYS = { token: "beacon.token", base: "beacon.baseUrl" };
  const NOTICE_ID = "beaconSend";
  // Smart Alerts waits for the handler; the rep should not. Past this the email goes.
  const SEND_BUDGET_MS = 8000;
  const REQUEST_TIMEOUT_MS = 6000;

  const REASONS = {
    tracked: "Will be tracked",
    not_requested: "Track is off",
    tracking_disabled: "Tracking is switched off for the account",
    never_log: "On a never-log list: not logged, not tracked",
    not_a_contact: "Not a contact yet: cannot be tracked under data privacy",
    no_legal_basis: "No legal basis for processing: cannot be tracked",
    other_recipient_not_trackable: "Another recipient cannot be tracked",
  };
  const LOG_REASONS = {
    never_log: "On a never-log list: logging leaves it out",
    no_legal_basis: "No legal basis for processing: logging leaves it out",
  };

  // -- Office.js, promised ----------------------------------------------------------

  function call(fn) {
    return new Promise((resolve, reject) =>
      fn((result) =>
        result && result.status === "failed" ? reject(result.error || new Error("failed")) : resolve(result && result.value),
      ),
    );
  }

  function sessionGet(item, key) {
    return call((cb) => item.sessionData.getAsync(key, cb)).then(
      (value) => (value ? JSON.parse(value) : null),
      () => null, // a key never set answers an error
    );
  }

  function sessionSet(item, key, value) {
    return call((cb) => item.sessionData.setAsync(key, JSON.stringify(value), cb));
  }

  // The token and Beacon's address: OfficeRuntime.storage is shared by the pane and the
  // JavaScript-only runtime (which has no localStorage); browsers fall back to it.
  function storage() {
    if (root.OfficeRuntime && root.OfficeRuntime.storage) return root.OfficeRuntime.storage;
    const local = root.localStorage;
    return {
      getItem: async (key) => local.getItem(key),
      setItem: async (key, value) => local.setItem(key, value),
      removeItem: async (key) => local.removeItem(key),
    };
  }

  async function credentials() {
    const store = storage();
    const [token, base] = await Promise.all([store.getItem(STORAGE_KEYS.token), store.getItem(STORAGE_KEYS.base)]);
    return token ? { token, base: base || "" } : null;
  }

  async function signIn(token, base) {
    const store = storage();
    await store.setItem(STORAGE_KEYS.token, token);
    await store.setItem(STORAGE_KEYS.base, base);
  }

  async function signOut() {
    const store = storage();
    await store.removeItem(STORAGE_KEYS.token);
  }

  // -- Beacon's API -------------------------------------------------------------------

  class BeaconError extends Error {
    constructor(code, detail, status) {
      super(`${code}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
      this.code = code;
      this.status = status;
    }
  }

  async function request(auth, method, path, body, timeoutMs = REQUEST_TIMEOUT_MS) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      const response = await root.fetch(auth.base + path, {
        method,
        headers: { "Content-Type": "application/json", Authorization: `Token ${auth.token}` },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: controller.signal,
      });
      const data = response.status === 204 ? null : await response.json();
      if (!response.ok) throw new BeaconError(data.error, data.detail, response.status);
      return data;
    } catch (error) {
      if (error.name === "AbortError") throw new BeaconError("timeout", "Beacon did not answer in time.", 0);
      if (error instanceof BeaconError) throw error;
      throw new BeaconError("unreachable", "Beacon could not be reached.", 0);
    } finally {
      clearTimeout(timer);
    }
  }

  // -- The draft ----------------------------------------------------------------------

  const addresses = (list) => (list || []).map((r) => r.emailAddress.toLowerCase());

  // Beacon's own BCC addresses (the account's and each registration's) share one domain.
  function isBeaconAddress(address, bccAddress) {
    if (!bccAddress) return false;
    const domain = bccAddress.split("@").pop().toLowerCase();
    return address.toLowerCase().endsWith(`@${domain}`);
  }

  async function readRecipients(item) {
    const [to, cc, bcc, from] = await Promise.all([
      call((cb) => item.to.getAsync(cb)),
      call((cb) => item.cc.getAsync(cb)),
      call((cb) => item.bcc.getAsync(cb)),
      call((cb) => item.from.getAsync(cb)),
    ]);
    return { from_address: from.emailAddress, to: addresses(to), cc: addresses(cc), bcc: addresses(bcc) };
  }

  async function readDraft(item) {
    const [recipients, subject, html] = await Promise.all([
      readRecipients(item),
      call((cb) => item.subject.getAsync(cb)),
      call((cb) => item.body.getAsync(root.Office.CoercionType.Html, cb)),
    ]);
    return { ...recipients, subject, html };
  }

  async function draftKey(item) {
    const known = await sessionGet(item, KEYS.draft);
    if (known) return known;
    const key = `draft-${root.crypto.randomUUID()}`;
    await sessionSet(item, KEYS.draft, key);
    return key;
  }

  // The rep's choices, written by the pane as they change: they outlive the pane.
  // {log, track, associations: {contacts, companies, deals, tickets} | null, skip_new_contacts}
  function loadChoices(item) {
    return sessionGet(item, KEYS.choices);
  }

  function saveChoices(item, choices) {
    return sessionSet(item, KEYS.choices, choices);
  }

  // -- The pane's picture of the compose context ---------------------------------------

  // Log and Track as the boxes show them, greyed with the reason.
  function boxes(context, choices) {
    const log = context.log;
    const track = context.track;
    return {
      log: {
        checked: log.allowed && (choices ? choices.log : log.default),
        disabled: !log.allowed || log.locked,
        reason: !log.allowed
          ? "This address is not one of your sending identities."
          : log.locked
            ? "Set for everyone by your administrator."
            : "",
      },
      track: {
        label: track.label,
        checked: track.enabled && (choices ? choices.track : track.default),
        disabled: !track.enabled || track.locked,
        reason: !track.enabled
          ? trackBlockers(context).join(" ")
          : track.locked
            ? "Set for everyone by your administrator."
            : "",
      },
      notice: context.anonymous_notice,
    };
  }

  function trackBlockers(context) {
    const reasons = context.recipients
      .filter((r) => !r.tracked && r.track_reason !== "not_requested")
      .map((r) => `${r.email}: ${REASONS[r.track_reason] || r.track_reason}.`);
    return reasons.length ? reasons : ["Tracking is not available."];
  }

  // The association picker: each record once, whatever the number of recipients that
  // share it; what logging would drop starts unticked, with the reason.
  function pickerRows(context, bccAddress) {
    const rows = [];
    const seen = new Set();
    const add = (row) => {
      const key = `${row.kind}:${row.id}`;
      if (seen.has(key)) return;
      seen.add(key);
      rows.push(row);
    };
    for (const r of context.recipients) {
      if (isBeaconAddress(r.email, bccAddress)) continue;
      const dropped = r.log_reason ? LOG_REASONS[r.log_reason] || r.log_reason : "";
      if (r.contact) {
        add({ kind: "contacts", id: r.contact.id, name: r.contact.name, email: r.email, selected: context.associate.contacts && !dropped, reason: dropped });
      } else if (r.new_contact) {
        add({ kind: "new_contact", id: r.email, name: `New contact: ${r.email}`, email: r.email, selected: context.associate.contacts, reason: "" });
      } else if (dropped) {
        add({ kind: "dropped", id: r.email, name: r.email, email: r.email, selected: false, reason: dropped, disabled: true });
      }
      if (dropped) continue; // its company, deals and tickets come only from it
      if (r.company) add({ kind: "companies", id: r.company.id, name: r.company.name, selected: r.company.selected, reason: "" });
      for (const d of r.deals) add({ kind: "deals", id: d.id, name: d.name, selected: d.selected, reason: "" });
      for (const t of r.tickets) add({ kind: "tickets", id: t.id, name: t.name, selected: t.selected, reason: "" });
    }
    return rows;
  }

  // What the rep ticked, as the registration wants it.
  function choicesFrom(rows, ticked, log, track) {
    const associations = { contacts: [], companies: [], deals: [], tickets: [] };
    const skip = [];
    for (const row of rows) {
      const on = ticked.has(`${row.kind}:${row.id}`);
      if (row.kind === "new_contact") {
        if (!on) skip.push(row.email);
      } else if (associations[row.kind] && on) {
        associations[row.kind].push(row.id);
      }
    }
    return { log, track, associations, skip_new_contacts: skip };
  }

  // -- Registration, shared by Send and the pane's "Apply now" --------------------------

  async function removeStaleBeaconAddresses(item, bccAddress, keep) {
    const current = addresses(await call((cb) => item.bcc.getAsync(cb)));
    const stale = current.filter((a) => isBeaconAddress(a, bccAddress) && a !== keep);
    if (!stale.length) return current;
    const kept = current.filter((a) => !stale.includes(a));
    await call((cb) => item.bcc.setAsync(kept, cb));
    return kept;
  }

  async function registerAndApply(item, auth, choices) {
    const [draft, key] = await Promise.all([readDraft(item), draftKey(item)]);
    const context = await request(auth, "POST", "/api/v1/addin/compose-context/", {
      from_address: draft.from_address,
      to: draft.to,
      cc: draft.cc,
      bcc: draft.bcc,
    });
    const bccDomainOf = context.log.bcc_address;
    const strip = (list) => list.filter((a) => !isBeaconAddress(a, bccDomainOf));
    const wanted = choices || { log: context.log.default, track: context.track.default, associations: null, skip_new_contacts: [] };
    const log = Boolean(wanted.log && context.log.allowed);
    const track = Boolean(wanted.track && context.track.enabled);
    if (!log && !track) return { registered: null, log, track };
    const registered = await request(auth, "POST", "/api/v1/emails/", {
      from_address: draft.from_address,
      to: strip(draft.to),
      cc: strip(draft.cc),
      bcc: strip(draft.bcc),
      subject: draft.subject,
      html: draft.html,
      log,
      track,
      associations: log ? wanted.associations : null,
      skip_new_contacts: log ? wanted.skip_new_contacts || [] : [],
      draft_key: key,
    });
    if (registered.tracked) {
      await call((cb) => item.body.setAsync(registered.html, { coercionType: root.Office.CoercionType.Html }, cb));
    }
    const bcc = registered.log ? registered.log.bcc_address.toLowerCase() : null;
    const current = await removeStaleBeaconAddresses(item, bccDomainOf, bcc);
    if (bcc && !current.includes(bcc)) await call((cb) => item.bcc.addAsync([bcc], cb));
    if (registered.log) {
      await call((cb) => item.internetHeaders.setAsync({ "X-Beacon-Registration": registered.log.token }, cb));
    }
    return { registered, log, track };
  }

  function notify(item, message) {
    return call((cb) =>
      item.notificationMessages.replaceAsync(
        NOTICE_ID,
        { type: root.Office.MailboxEnums.ItemNotificationMessageType.InformationalMessage, message: message.slice(0, 150), icon: "Icon.16x16", persistent: false },
        cb,
      ),
    ).catch(() => undefined);
  }

  function withinBudget(promise, ms) {
    let timer;
    const late = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new BeaconError("timeout", "Beacon did not answer in time.", 0)), ms);
    });
    return Promise.race([promise, late]).finally(() => clearTimeout(timer));
  }

  async function handleSend(item, budgetMs = SEND_BUDGET_MS) {
    const auth = await credentials();
    if (!auth) {
      await notify(item, "Beacon: sent without tracking or logging. Open Beacon and sign in.");
      return { allowEvent: true, outcome: "signed_out" };
    }
    try {
      const choices = await loadChoices(item);
      const done = await withinBudget(registerAndApply(item, auth, choices), budgetMs);
      if (done.registered) {
        await request(auth, "POST", `/api/v1/emails/${done.registered.id}/sent/`, undefined).catch(() => undefined);
      }
      return { allowEvent: true, outcome: done.registered ? "registered" : "not_requested" };
    } catch (error) {
      const why = error.code === "timeout" || error.code === "unreachable" ? "Beacon could not be reached in time" : error.message;
      await notify(item, `Beacon: sent without tracking or logging (${why}).`);
      return { allowEvent: true, outcome: "untracked", error: error.code || "error" };
    }
  }

  // OnMessageSend: never blocks for long, never keeps the email.
  function onMessageSendHandler(event) {
    const item = root.Office.context.mailbox.item;
    handleSend(item).then(
      () => event.completed({ allowEvent: true }),
      () => event.completed({ allowEvent: true }),
    );
  }

  return {
    KEYS,
    STORAGE_KEYS,
    REASONS,
    LOG_REASONS,
    BeaconError,
    boxes,
    call,
    choicesFrom,
    credentials,
    draftKey,
    handleSend,
    isBeaconAddress,
    loadChoices,
    onMessageSendHandler,
    pickerRows,
    readDraft,
    readRecipients,
    registerAndApply,
    request,
    saveChoices,
    signIn,
    signOut,
  };
});
