// Live notifications on every signed-in page (T9): one socket to /ws/notifications/,
// a catch-up from GET /api/v1/notifications/?after=<id> on every (re)connect, an in-page
// notice always, a desktop Notification when the rep allowed it. Every payload received
// or caught up is dispatched once per page as a "beacon:tracking-event" DOM event for
// the pages that change in place (the feed, the email page).
import {
  NotificationLedger,
  announces,
  backoffDelay,
  catchUpAfter,
  emailUrl,
  notificationText,
} from "./notifications-core.mjs";

const TOAST_MS = 10000;
const root = document.getElementById("beacon-live");

function start(box) {
  const ledger = new NotificationLedger(window.localStorage, `beacon:notifications:${box.dataset.user}`);
  const dispatched = new Set();
  const toasted = new Set();
  let socket = null;
  let attempt = 0;
  let timer = null;
  let catchingUp = false;
  let stopped = false;

  function dispatch(payload) {
    if (!dispatched.has(payload.event_id)) {
      dispatched.add(payload.event_id);
      document.dispatchEvent(new CustomEvent("beacon:tracking-event", { detail: payload }));
    }
  }

  function toast(payload) {
    toasted.add(payload.event_id);
    const { title, body } = notificationText(payload);
    const item = document.createElement("div");
    item.className = "toast";
    item.dataset.eventId = String(payload.event_id);
    const link = document.createElement("a");
    link.href = emailUrl(payload);
    link.className = "toast__title";
    link.textContent = title;
    item.append(link);
    if (body) {
      const detail = document.createElement("span");
      detail.className = "toast__body";
      detail.textContent = body;
      item.append(detail);
    }
    if (payload.desktop && "Notification" in window && Notification.permission === "default") {
      const allow = document.createElement("button");
      allow.type = "button";
      allow.className = "btn btn--quiet toast__allow";
      allow.textContent = "Show on the desktop too";
      allow.addEventListener("click", () => {
        Notification.requestPermission().then(() => allow.remove());
      });
      item.append(allow);
    }
    const close = document.createElement("button");
    close.type = "button";
    close.className = "toast__close";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    close.addEventListener("click", () => item.remove());
    item.append(close);
    box.append(item);
    let hold = false;
    item.addEventListener("mouseenter", () => (hold = true));
    item.addEventListener("mouseleave", () => (hold = false));
    const expire = () => (hold || item.contains(document.activeElement) ? setTimeout(expire, 2000) : item.remove());
    setTimeout(expire, TOAST_MS);
  }

  function popUp(payload) {
    if (!payload.desktop || !("Notification" in window) || Notification.permission !== "granted") {
      return;
    }
    const { title, body } = notificationText(payload);
    // The tag makes the system show one notice per event, whichever tab sends it.
    const notice = new Notification(title, { body, tag: `beacon-event-${payload.event_id}` });
    notice.addEventListener("click", () => {
      notice.close();
      window.focus();
      window.location.assign(emailUrl(payload));
    });
  }

  // live: sent by the socket now; otherwise read by a catch-up.
  function receive(payload, live) {
    if (payload?.type !== "tracking.event" || !Number.isInteger(payload.event_id)) {
      return;
    }
    dispatch(payload);
    const first = ledger.claim(payload.event_id);
    if (live && !catchingUp) {
      ledger.advance(payload.event_id);
    }
    if (!announces(payload)) {
      return;
    }
    // The first tab to get an event shows it; a tab the rep is looking at shows what
    // arrives live even if a background tab got it first.
    const visible = document.visibilityState === "visible";
    if (!toasted.has(payload.event_id) && (first || (live && visible))) {
      toast(payload);
    }
    if (first) {
      popUp(payload);
    }
  }

  async function catchUp() {
    if (catchingUp) {
      return;
    }
    catchingUp = true;
    try {
      const after = catchUpAfter(ledger.cursor());
      let url = after === null ? box.dataset.api : `${box.dataset.api}?after=${after}`;
      while (url) {
        const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
        if (response.status === 401 || response.status === 403) {
          stop();
          return;
        }
        if (!response.ok) {
          return;
        }
        const page = await response.json();
        page.results.forEach((payload) => receive(payload, false));
        ledger.advance(page.cursor);
        url = page.next;
      }
    } catch (error) {
      console.warn("notifications: catch-up failed", error);
    } finally {
      catchingUp = false;
    }
  }

  function connect() {
    clearTimeout(timer);
    if (stopped || socket || !navigator.onLine) {
      return;
    }
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${window.location.host}${box.dataset.socket}`);
    socket = ws;
    let opened = false;
    ws.addEventListener("open", () => {
      opened = true;
      attempt = 0;
      box.dataset.state = "open";
      catchUp();
    });
    ws.addEventListener("message", (message) => {
      try {
        receive(JSON.parse(message.data), true);
      } catch (error) {
        console.warn("notifications: unreadable message", error);
      }
    });
    ws.addEventListener("close", () => {
      if (socket === ws) {
        socket = null;
      }
      box.dataset.state = "closed";
      if (!opened) {
        // Refused: signed out since the page loaded? The catch-up's 401/403 says so.
        catchUp();
      }
      schedule();
    });
  }

  function schedule() {
    if (stopped) {
      return;
    }
    clearTimeout(timer);
    timer = setTimeout(connect, backoffDelay(attempt));
    attempt += 1;
  }

  function stop() {
    stopped = true;
    clearTimeout(timer);
    socket?.close();
  }

  // A laptop that goes offline keeps a dead socket for a while: drop it now, and come
  // back as soon as the network does (the catch-up fills the gap).
  window.addEventListener("offline", () => socket?.close());
  window.addEventListener("online", () => {
    attempt = 0;
    connect();
  });
  window.addEventListener("pagehide", () => {
    stopped = true;
    socket?.close();
  });
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) {
      stopped = false;
      attempt = 0;
      connect();
    }
  });
  connect();
}

// The preferences page: this browser's permission, and a button to ask for it (the
// browser asks only on a click).
function permissionControls(box) {
  const text = box.querySelector("[data-permission-text]");
  const ask = box.querySelector("[data-permission-ask]");
  const show = () => {
    const state = "Notification" in window ? Notification.permission : "unsupported";
    text.textContent = {
      granted: "This browser shows them.",
      denied: "This browser blocks them: allow notifications for this site in its settings.",
      default: "This browser has not been allowed to show them yet.",
      unsupported: "This browser cannot show desktop notifications.",
    }[state];
    ask.hidden = state !== "default";
  };
  ask.addEventListener("click", () => Notification.requestPermission().then(show));
  show();
  box.hidden = false;
}

if (root && "WebSocket" in window) {
  start(root);
}
const permission = document.querySelector("[data-notification-permission]");
if (permission) {
  permissionControls(permission);
}
