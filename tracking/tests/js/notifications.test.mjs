// The notification socket's pure parts: `node --test tracking/tests/js/*.test.mjs`.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  BACKOFF_MAX_MS,
  NotificationLedger,
  announces,
  backoffDelay,
  catchUpAfter,
  emailUrl,
  notificationText,
} from "../../../static/js/notifications-core.mjs";

const open = {
  type: "tracking.event",
  event_id: 7,
  email_id: 3,
  subject: "Proposal",
  kind: "open",
  verdict: "human",
  contact: "Amara Costa",
  link_url: null,
  occurred_at: "2026-12-02T05:00:00+00:00",
  inferred: false,
  desktop: true,
};

class MemoryStorage {
  constructor() {
    this.items = new Map();
  }
  getItem(key) {
    return this.items.has(key) ? this.items.get(key) : null;
  }
  setItem(key, value) {
    this.items.set(key, String(value));
  }
}

test("an open names the contact and the subject", () => {
  assert.deepEqual(notificationText(open), { title: "Amara Costa opened 'Proposal'", body: "" });
});

test("an anonymous open is someone's", () => {
  assert.equal(notificationText({ ...open, contact: "" }).title, "Someone opened 'Proposal'");
  assert.equal(notificationText({ ...open, contact: "Someone" }).title, "Someone opened 'Proposal'");
});

test("a click names the link and the email", () => {
  const click = { ...open, kind: "click", link_url: "https://acme.example/pricing" };
  assert.deepEqual(notificationText(click), {
    title: "Amara Costa clicked https://acme.example/pricing",
    body: "In 'Proposal'",
  });
});

test("an email without a subject is 'your email'", () => {
  assert.equal(notificationText({ ...open, subject: "" }).title, "Amara Costa opened your email");
});

test("an open inferred from a click is not announced; its click is", () => {
  assert.equal(announces(open), true);
  assert.equal(announces({ ...open, inferred: true }), false);
  assert.equal(announces({ ...open, kind: "click", inferred: false }), true);
  assert.equal(announces({ type: "something.else" }), false);
});

test("a notice leads to its email page", () => {
  assert.equal(emailUrl(open), "/emails/3/");
  assert.equal(emailUrl({ ...open, email_id: "3/../admin" }), "/emails/NaN/");
});

test("an event id is claimed once per browser, across tabs", () => {
  const storage = new MemoryStorage();
  const tab1 = new NotificationLedger(storage, "beacon:1");
  const tab2 = new NotificationLedger(storage, "beacon:1");
  assert.equal(tab1.claim(7), true);
  assert.equal(tab2.claim(7), false);
  assert.equal(tab1.claim(7), false);
  assert.equal(tab2.has(7), true);
  assert.equal(tab2.claim(8), true);
  assert.deepEqual(tab1.seen(), [7, 8]);
});

test("each user of a browser has a ledger of their own", () => {
  const storage = new MemoryStorage();
  assert.equal(new NotificationLedger(storage, "beacon:1").claim(7), true);
  assert.equal(new NotificationLedger(storage, "beacon:2").claim(7), true);
});

test("the ledger keeps the newest ids only", () => {
  const ledger = new NotificationLedger(new MemoryStorage(), "b", 3);
  for (const id of [5, 1, 4, 2, 3]) {
    ledger.claim(id);
  }
  assert.deepEqual(ledger.seen(), [3, 4, 5]);
});

test("a damaged ledger starts afresh instead of failing", () => {
  const storage = new MemoryStorage();
  storage.setItem("b:seen", "{not json");
  storage.setItem("b:cursor", "x");
  const ledger = new NotificationLedger(storage, "b");
  assert.deepEqual(ledger.seen(), []);
  assert.equal(ledger.cursor(), null);
  assert.equal(ledger.claim("7"), false);
  assert.equal(ledger.claim(7), true);
});

test("the cursor only moves forward", () => {
  const ledger = new NotificationLedger(new MemoryStorage(), "b");
  assert.equal(ledger.cursor(), null);
  ledger.advance(10);
  ledger.advance(4);
  ledger.advance(-1);
  assert.equal(ledger.cursor(), 10);
  ledger.advance(12);
  assert.equal(ledger.cursor(), 12);
});

test("reconnects back off, doubling up to a ceiling, with jitter", () => {
  const low = () => 0;
  const high = () => 1;
  assert.deepEqual(
    [0, 1, 2, 3].map((attempt) => backoffDelay(attempt, high)),
    [1000, 2000, 4000, 8000],
  );
  assert.equal(backoffDelay(0, low), 500);
  assert.equal(backoffDelay(50, high), BACKOFF_MAX_MS);
  assert.equal(backoffDelay(50, low), BACKOFF_MAX_MS / 2);
  assert.equal(backoffDelay(-3, high), 1000);
});

test("a catch-up reads a little below the cursor; a new browser asks for one", () => {
  assert.equal(catchUpAfter(null), null);
  assert.equal(catchUpAfter(1000), 800);
  assert.equal(catchUpAfter(50), 0);
  assert.equal(catchUpAfter(10, 0), 10);
});
