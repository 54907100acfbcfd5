// The notification socket's pure parts (T9): what a notice says, which event ids this
// browser has shown, where to resume, how long to wait before reconnecting. No DOM here:
// tested with `node --test` (tracking/tests/js/); static/js/notifications.mjs uses them.

// Event ids remembered per browser; older ones fall out (the cursor covers them).
export const SEEN_LIMIT = 500;
export const BACKOFF_FIRST_MS = 1000;
export const BACKOFF_MAX_MS = 30000;
// Event ids a catch-up reads again below the cursor. Ids are taken when a batch is
// stored and batches of several ingestors commit in any order, so an event can become
// visible after a higher id was shown; ids already seen are skipped by the ledger.
export const CATCH_UP_OVERLAP = 200;

/** The `after` of a catch-up from `cursor` (null: a browser that has seen nothing). */
export function catchUpAfter(cursor, overlap = CATCH_UP_OVERLAP) {
  return cursor === null ? null : Math.max(0, cursor - overlap);
}

/** The notice for one payload (tracking.notifications.tracking_event_payload). */
export function notificationText(payload) {
  const who = payload.contact || "Someone";
  const subject = payload.subject ? `'${payload.subject}'` : "your email";
  if (payload.kind === "click") {
    return { title: `${who} clicked ${payload.link_url ?? "a link"}`, body: `In ${subject}` };
  }
  return { title: `${who} opened ${subject}`, body: "" };
}

/** Whether a payload is announced at all: an open inferred from a click (T6) comes with
 * that click, which says more. */
export function announces(payload) {
  return payload.type === "tracking.event" && !(payload.kind === "open" && payload.inferred);
}

/** The email page a notice leads to. */
export function emailUrl(payload) {
  return `/emails/${Number(payload.email_id)}/`;
}

/** Milliseconds before reconnect attempt `attempt` (0, 1, ...): doubling from 1 s up to
 * 30 s, each drawn between half and all of it so that many pages do not come back at
 * once after a server restart. `random` is Math.random's shape. */
export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** What this browser has shown and where it resumes, kept in `storage` (localStorage's
 * getItem/setItem) under `prefix`, shared by every tab of the user. Read again at every
 * call: another tab may have written since. */
export class NotificationLedger {
  constructor(storage, prefix, limit = SEEN_LIMIT) {
    this.storage = storage;
    this.seenKey = `${prefix}:seen`;
    this.cursorKey = `${prefix}:cursor`;
    this.limit = limit;
  }

  seen() {
    try {
      const ids = JSON.parse(this.storage.getItem(this.seenKey) ?? "[]");
      return Array.isArray(ids) ? ids.filter(Number.isInteger) : [];
    } catch {
      return [];
    }
  }

  has(id) {
    return this.seen().includes(id);
  }

  /** True the first time this browser sees `id` (the caller then shows it), else false. */
  claim(id) {
    if (!Number.isInteger(id)) {
      return false;
    }
    const ids = this.seen();
    if (ids.includes(id)) {
      return false;
    }
    ids.push(id);
    ids.sort((a, b) => a - b);
    this.storage.setItem(this.seenKey, JSON.stringify(ids.slice(-this.limit)));
    return true;
  }

  /** The last event id this browser has caught up to; null before the first time. */
  cursor() {
    const value = Number.parseInt(this.storage.getItem(this.cursorKey) ?? "", 10);
    return Number.isInteger(value) && value >= 0 ? value : null;
  }

  /** Move the cursor forward (never back). */
  advance(id) {
    const current = this.cursor();
    if (Number.isInteger(id) && id >= 0 && (current === null || id > current)) {
      this.storage.setItem(this.cursorKey, String(id));
    }
  }
}
