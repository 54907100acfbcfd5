// The feed's rows and the email page's summary change in place when a tracking event
// arrives: the notification socket dispatches each payload (tracking.notifications.
// tracking_event_payload) as a "beacon:tracking-event" DOM event.
import { fetchFragment, flash, nodesOf } from "./fragments.js";

// Events come in bursts (a batch per sender); one refresh per email and burst.
const WAIT_MS = 150;
const pending = new Map();

async function refreshFeedRow(feed, emailId) {
  const url = feed.dataset.rowUrl.replace(/\/0\/$/, `/${emailId}/`);
  const row = document.getElementById(`feed-row-${emailId}`);
  if (!row && !feed.hasAttribute("data-feed-prepend")) {
    return;
  }
  const fresh = nodesOf(await fetchFragment(url)).querySelector("tr");
  if (row) {
    row.replaceWith(fresh);
  } else {
    feed.querySelector(".feed__empty")?.remove();
    feed.tBodies[0].prepend(fresh);
  }
  flash(fresh);
}

async function refreshEmailPage(box) {
  box.innerHTML = await fetchFragment(box.dataset.liveUrl);
  flash(box.querySelector("[data-tracking-status]") ?? box);
}

async function refresh(emailId) {
  const feed = document.querySelector("[data-feed]");
  if (feed) {
    await refreshFeedRow(feed, emailId);
  }
  const box = document.querySelector(`[data-email-live="${emailId}"]`);
  if (box) {
    await refreshEmailPage(box);
  }
}

document.addEventListener("beacon:tracking-event", (event) => {
  const emailId = Number(event.detail?.email_id);
  if (!Number.isInteger(emailId) || emailId <= 0 || pending.has(emailId)) {
    return;
  }
  pending.set(
    emailId,
    setTimeout(() => {
      pending.delete(emailId);
      refresh(emailId).catch((error) => console.error(error));
    }, WAIT_MS),
  );
});
