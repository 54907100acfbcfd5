// The send handler and the pane's logic against the Office.js stand-in and a stand-in
// of Beacon's API (the contract documented in docs/openapi.yaml).
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const standIn = require("./office-standin.js");

const BCC = "log+secret@bcc.beacon.localhost";
const PIXEL = '<img src="https://beacon.example/t/o/x.gif">';

function fakeBeacon({ down = false, slowMs = 0, context = {} } = {}) {
  const beacon = { registrations: new Map(), sent: [], calls: [] };
  beacon.fetch = async (url, options) => {
    const path = new URL(url).pathname;
    beacon.calls.push(`${options.method} ${path}`);
    assert.equal(options.headers.Authorization, "Token bcn_test");
    if (down) throw new TypeError("fetch failed");
    if (slowMs) {
      await new Promise((resolve, reject) => {
        const timer = setTimeout(resolve, slowMs);
        options.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          reject(Object.assign(new Error("aborted"), { name: "AbortError" }));
        });
      });
    }
    const body = options.body ? JSON.parse(options.body) : null;
    const answer = (status, data) => ({ ok: status < 400, status, json: async () => data });
    if (path === "/api/v1/addin/compose-context/") {
      return answer(200, {
        log: { default: true, allowed: true, locked: false, reason: "", bcc_address: BCC },
        track: { default: true, enabled: true, locked: false, label: "Track email opens and clicks" },
        anonymous_notice: "",
        associate: { contacts: true, companies: true, deals: true, tickets: true },
        recipients: body.to.map((email) => ({ email, kind: "to", tracked: true, track_reason: "tracked", never_log: false, log_reason: "", contact: null, new_contact: true, company: null, deals: [], tickets: [] })),
        ...context,
      });
    }
    if (path === "/api/v1/emails/") {
      for (const list of [body.to, body.cc, body.bcc]) {
        assert.ok(!list.some((a) => a.endsWith("@bcc.beacon.localhost")), "Beacon's BCC sent as a recipient");
      }
      const known = beacon.registrations.get(body.draft_key);
      const id = known ? known.id : beacon.registrations.size + 1;
      const token = `reg${id}`;
      beacon.registrations.set(body.draft_key, { id, body });
      // Like Beacon: the earlier pixel is taken out before tracking again.
      const html = body.track ? body.html.split(PIXEL).join("") + PIXEL : body.html;
      return answer(201, { id, html, tracked: body.track, track_clicks: body.track, anonymous: false, notice: "", recipients: [], log: body.log ? { registration_id: id, token, bcc_address: BCC.replace("@", `+${token}@`), associations: body.associations } : null });
    }
    const sent = path.match(/^\/api\/v1\/emails\/(\d+)\/sent\/$/);
    if (sent) {
      beacon.sent.push(Number(sent[1]));
      return answer(200, {});
    }
    return answer(404, { error: "not_found", detail: path });
  };
  return beacon;
}

function setUp(beacon, itemOptions = { to: ["anna@acme.example"], subject: "Proposal", html: "<p>Hi</p>" }) {
  const item = standIn.createItem(itemOptions);
  standIn.install(globalThis, { item });
  globalThis.fetch = beacon.fetch;
  delete require.cache[require.resolve("../../../static/addin/beacon-addin.js")];
  const addin = require("../../../static/addin/beacon-addin.js");
  return { item, addin };
}

async function signedIn(addin) {
  await addin.signIn("bcn_test", "https://beacon.example");
}

const pixels = (html) => html.split(PIXEL).length - 1;
const beaconBccs = (item) => item.state.bcc.filter((a) => a.endsWith("@bcc.beacon.localhost"));

test("the handler is associated with the manifest's FunctionName", () => {
  setUp(fakeBeacon());
  assert.equal(typeof globalThis.Office.associated.onMessageSendHandler, "function");
});

test("choices survive closing the pane: they live in the item's session data", async () => {
  const { item, addin } = setUp(fakeBeacon());
  const choices = { log: true, track: false, associations: { contacts: [], companies: [7], deals: [], tickets: [] }, skip_new_contacts: ["anna@acme.example"] };
  await addin.saveChoices(item, choices);

  // The pane is gone; a fresh load of the script (the send runtime) reads them back.
  delete require.cache[require.resolve("../../../static/addin/beacon-addin.js")];
  const again = require("../../../static/addin/beacon-addin.js");
  assert.deepEqual(await again.loadChoices(item), choices);
});

test("Send with the pane never opened tracks and logs with the defaults", async () => {
  const beacon = fakeBeacon();
  const { item, addin } = setUp(beacon);
  await signedIn(addin);

  const result = await addin.handleSend(item);

  assert.deepEqual(result, { allowEvent: true, outcome: "registered" });
  assert.equal(beacon.registrations.size, 1);
  const [{ body }] = beacon.registrations.values();
  assert.equal(body.log, true);
  assert.equal(body.track, true);
  assert.equal(body.associations, null);
  assert.equal(pixels(item.state.html), 1);
  assert.deepEqual(beaconBccs(item), ["log+secret+reg1@bcc.beacon.localhost"]);
  assert.deepEqual(item.state.headers, { "X-Beacon-Registration": "reg1" });
  assert.deepEqual(beacon.sent, [1]);
});

test("Send uses the choices the pane stored", async () => {
  const beacon = fakeBeacon();
  const { item, addin } = setUp(beacon);
  await signedIn(addin);
  await addin.saveChoices(item, { log: true, track: false, associations: { contacts: [], companies: [3], deals: [], tickets: [] }, skip_new_contacts: ["anna@acme.example"] });

  await addin.handleSend(item);

  const [{ body }] = beacon.registrations.values();
  assert.equal(body.track, false);
  assert.deepEqual(body.associations.companies, [3]);
  assert.deepEqual(body.skip_new_contacts, ["anna@acme.example"]);
  assert.equal(pixels(item.state.html), 0);
  assert.ok(!item.calls.includes("body.setAsync"));
});

test("two Sends and the pane's Apply give one registration, one pixel, one BCC", async () => {
  const beacon = fakeBeacon();
  const { item, addin } = setUp(beacon);
  await signedIn(addin);
  const auth = await addin.credentials();

  await addin.registerAndApply(item, auth, null); // the pane's "Apply now"
  await addin.handleSend(item);
  await addin.handleSend(item);

  assert.equal(beacon.registrations.size, 1);
  assert.equal(pixels(item.state.html), 1);
  assert.equal(beaconBccs(item).length, 1);
  assert.deepEqual(item.state.to, ["anna@acme.example"]);
});

test("a retry after a timeout updates the same registration", async () => {
  const slow = fakeBeacon({ slowMs: 200 });
  const { item, addin } = setUp(slow);
  await signedIn(addin);

  const first = await addin.handleSend(item, 50);
  assert.equal(first.outcome, "untracked");
  assert.equal(first.error, "timeout");
  assert.match(item.state.notices.beaconSend.message, /could not be reached in time/);

  globalThis.fetch = slow.fetch;
  const second = await addin.handleSend(item, 5000);

  assert.equal(second.outcome, "registered");
  assert.equal(new Set([...slow.registrations.values()].map((r) => r.id)).size, 1);
  assert.equal(pixels(item.state.html), 1);
  assert.equal(beaconBccs(item).length, 1);
});

test("a Beacon outage lets the email go with a notice", async () => {
  const { item, addin } = setUp(fakeBeacon({ down: true }));
  await signedIn(addin);
  const completed = [];

  globalThis.Office.associated.onMessageSendHandler({ completed: (options) => completed.push(options) });
  await new Promise((resolve) => setTimeout(resolve, 50));

  assert.deepEqual(completed, [{ allowEvent: true }]);
  const notice = item.state.notices.beaconSend;
  assert.equal(notice.type, "informationalMessage");
  assert.match(notice.message, /sent without tracking or logging \(Beacon could not be reached in time\)/);
  assert.ok(notice.message.length <= 150);
  assert.equal(pixels(item.state.html), 0);
  assert.deepEqual(item.state.bcc, []);
});

test("signed out, the email goes and the rep is told to sign in", async () => {
  const beacon = fakeBeacon();
  const { item, addin } = setUp(beacon);

  const result = await addin.handleSend(item);

  assert.equal(result.outcome, "signed_out");
  assert.deepEqual(beacon.calls, []);
  assert.match(item.state.notices.beaconSend.message, /sign in/);
});

test("Log and Track both off: nothing is registered", async () => {
  const beacon = fakeBeacon();
  const { item, addin } = setUp(beacon);
  await signedIn(addin);
  await addin.saveChoices(item, { log: false, track: false, associations: null, skip_new_contacts: [] });

  const result = await addin.handleSend(item);

  assert.equal(result.outcome, "not_requested");
  assert.equal(beacon.registrations.size, 0);
  assert.deepEqual(item.state.headers, {});
});

const CONTEXT = {
  log: { default: true, allowed: true, locked: false, reason: "", bcc_address: BCC },
  track: { default: true, enabled: false, locked: false, label: "Track email opens" },
  anonymous_notice: "This email has more than one recipient, so opens will be reported as “someone”.",
  associate: { contacts: true, companies: true, deals: true, tickets: false },
  recipients: [
    { email: "anna@acme.example", tracked: false, track_reason: "other_recipient_not_trackable", log_reason: "", never_log: false, new_contact: false, contact: { id: 1, name: "Anna" }, company: { id: 5, name: "Acme", selected: true }, deals: [{ id: 9, name: "Renewal", selected: true }], tickets: [] },
    { email: "olle@acme.example", tracked: false, track_reason: "no_legal_basis", log_reason: "no_legal_basis", never_log: false, new_contact: false, contact: { id: 2, name: "Olle" }, company: { id: 5, name: "Acme", selected: true }, deals: [{ id: 9, name: "Renewal", selected: true }], tickets: [] },
    { email: "new@acme.example", tracked: false, track_reason: "not_a_contact", log_reason: "", never_log: false, new_contact: true, contact: null, company: null, deals: [], tickets: [] },
    { email: "x@lawyers.example", tracked: false, track_reason: "never_log", log_reason: "never_log", never_log: true, new_contact: false, contact: null, company: null, deals: [], tickets: [] },
    { email: "log+secret+reg1@bcc.beacon.localhost", tracked: false, track_reason: "not_a_contact", log_reason: "", never_log: false, new_contact: true, contact: null, company: null, deals: [], tickets: [] },
  ],
};

test("the picker shows each record once and unticks what logging drops, with why", () => {
  const { addin } = setUp(fakeBeacon());
  const rows = addin.pickerRows(CONTEXT, BCC);

  assert.deepEqual(
    rows.map((r) => [r.kind, r.name, r.selected, r.reason]),
    [
      ["contacts", "Anna", true, ""],
      ["companies", "Acme", true, ""],
      ["deals", "Renewal", true, ""],
      ["contacts", "Olle", false, "No legal basis for processing: logging leaves it out"],
      ["new_contact", "New contact: new@acme.example", true, ""],
      ["dropped", "x@lawyers.example", false, "On a never-log list: logging leaves it out"],
    ],
  );
});

test("the BCC address never shows as a new contact", () => {
  const { addin } = setUp(fakeBeacon());
  const rows = addin.pickerRows(CONTEXT, BCC);
  assert.ok(!rows.some((r) => r.email && r.email.includes("bcc.beacon.localhost")));
});

test("unticking New contact becomes skip_new_contacts", () => {
  const { addin } = setUp(fakeBeacon());
  const rows = addin.pickerRows(CONTEXT, BCC);
  const ticked = new Set(["contacts:1", "companies:5"]);

  const choices = addin.choicesFrom(rows, ticked, true, false);

  assert.deepEqual(choices, {
    log: true,
    track: false,
    associations: { contacts: [1], companies: [5], deals: [], tickets: [] },
    skip_new_contacts: ["new@acme.example"],
  });
});

test("Track is greyed with the reason per recipient", () => {
  const { addin } = setUp(fakeBeacon());
  const state = addin.boxes(CONTEXT, null);

  assert.equal(state.track.disabled, true);
  assert.equal(state.track.checked, false);
  assert.equal(state.track.label, "Track email opens");
  assert.match(state.track.reason, /olle@acme.example: No legal basis for processing: cannot be tracked\./);
  assert.match(state.track.reason, /new@acme.example: Not a contact yet/);
  assert.equal(state.log.checked, true);
  assert.equal(state.notice, CONTEXT.anonymous_notice);
});
