// Timeline cards in place: "Older", pin/unpin, delete (after a confirm), details and
// expand. Every action is a real link or form first; this only saves the page load.
import { fetchFragment, flash, nodesOf, postForm } from "./fragments.js";

const FRAME_SANDBOX = "allow-popups allow-popups-to-escape-sandbox allow-same-origin";

async function loadOlder(link) {
  link.setAttribute("aria-busy", "true");
  const item = link.closest("li");
  const html = await fetchFragment(link.dataset.older);
  const nodes = nodesOf(html);
  const first = nodes.querySelector(".email-card");
  item.replaceWith(nodes);
  if (first) {
    const target = document.getElementById(first.id)?.querySelector("a, button");
    target?.focus();
  }
}

function region(control) {
  return document.getElementById(control.getAttribute("aria-controls"));
}

function collapse(control, box) {
  control.setAttribute("aria-expanded", "false");
  box.hidden = true;
}

async function toggleDetails(link) {
  const box = region(link);
  if (link.getAttribute("aria-expanded") === "true") {
    collapse(link, box);
    return;
  }
  if (!box.dataset.loaded) {
    box.innerHTML = await fetchFragment(link.dataset.inline);
    box.dataset.loaded = "1";
  }
  box.hidden = false;
  link.setAttribute("aria-expanded", "true");
}

function toggleBody(link) {
  const box = region(link);
  if (link.getAttribute("aria-expanded") === "true") {
    collapse(link, box);
    return;
  }
  if (!box.querySelector("iframe")) {
    // No scripts in the frame; its own CSP loads nothing but our attachment images.
    const frame = document.createElement("iframe");
    frame.className = "email-frame";
    frame.setAttribute("sandbox", FRAME_SANDBOX);
    frame.setAttribute("referrerpolicy", "no-referrer");
    frame.title = `Body of ${link.closest(".email-card").querySelector("h3").textContent}`;
    frame.src = link.dataset.expand;
    box.append(frame);
  }
  box.hidden = false;
  link.setAttribute("aria-expanded", "true");
}

async function refreshTimeline(form, cardId) {
  const section = form.closest("[data-timeline]");
  if (!section) {
    window.location.reload();
    return;
  }
  const items = section.querySelector("[data-timeline-items]");
  items.innerHTML = await fetchFragment(section.dataset.timeline);
  const card = document.getElementById(cardId);
  if (card) {
    flash(card);
    card.querySelector("[data-card-pin] button")?.focus();
  }
}

async function pin(form) {
  const cardId = form.closest(".email-card").id;
  await postForm(form);
  await refreshTimeline(form, cardId);
}

async function remove(form) {
  const card = form.closest(".email-card");
  const subject = card.querySelector("h3").textContent;
  if (!window.confirm(`Delete “${subject}” from every timeline?`)) {
    return;
  }
  await postForm(form, { confirmed: "1" });
  const item = card.closest("li") ?? card;
  item.remove();
}

// On failure, fall back to what the link or form does without script.
function attempt(promise, fallback) {
  promise.catch((error) => {
    console.error(error);
    fallback();
  });
}

document.addEventListener("click", (event) => {
  const older = event.target.closest("a[data-older]");
  const details = event.target.closest("a[data-inline]");
  const expand = event.target.closest("a[data-expand]");
  const link = older ?? details ?? expand;
  if (!link) {
    return;
  }
  event.preventDefault();
  const fallback = () => window.location.assign(link.href);
  if (older) {
    attempt(loadOlder(older), fallback);
  } else if (details) {
    attempt(toggleDetails(details), fallback);
  } else {
    toggleBody(expand);
  }
});

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.matches("[data-card-pin]")) {
    event.preventDefault();
    attempt(pin(form), () => form.submit());
  } else if (form.matches("[data-card-delete]")) {
    event.preventDefault();
    attempt(remove(form), () => form.submit());
  }
});
