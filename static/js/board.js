// The deal and ticket boards: drag a card to another column (or use its "Move to"
// form, which also works without this script), save the move through the page's own
// move URL, and follow other reps' moves over the board's websocket.
import { boardSocketUrl, placement, reconnectDelay } from "./board_logic.js";

const board = document.querySelector(".board");
const status = document.getElementById("board-status");

function announce(text) {
  if (status) status.textContent = text;
}

function column(stageId) {
  return board.querySelector(`.board__cards[data-stage="${stageId}"]`);
}

function recount() {
  for (const section of board.querySelectorAll(".board__column")) {
    const count = section.querySelectorAll(".board-card").length;
    const badge = section.querySelector(".board__count");
    badge.textContent = String(count);
    badge.setAttribute("aria-label", `${count} ${board.dataset.kind}s`);
  }
}

// Puts a card in its column (newest first, as the page renders them).
function place(card, stageId) {
  const target = column(stageId);
  if (!target) return;
  card.dataset.stage = String(stageId);
  const select = card.querySelector("select[name=stage]");
  if (select) select.value = String(stageId);
  target.prepend(card);
  recount();
}

async function save(card, stageId) {
  const form = card.querySelector("form.board-card__move");
  const body = new FormData(form);
  body.set("stage", String(stageId));
  const response = await fetch(form.action, {
    method: "POST",
    body,
    headers: { Accept: "application/json" },
    credentials: "same-origin",
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.detail || `Not saved (${response.status}).`);
  return answer;
}

async function move(card, stageId) {
  const from = card.dataset.stage;
  if (String(stageId) === from) return;
  const name = card.querySelector(".board-card__name").textContent.trim();
  const title = board.querySelector(`#stage-${stageId}`);
  place(card, stageId);
  try {
    await save(card, stageId);
    announce(`${name} moved to ${title ? title.firstChild.textContent.trim() : "the new column"}.`);
    card.classList.add("board-card--saved");
  } catch (error) {
    place(card, from);
    announce(`${name} was not moved: ${error.message}`);
    card.classList.add("board-card--error");
  }
}

function enableDragAndDrop() {
  board.addEventListener("dragstart", (event) => {
    const card = event.target.closest(".board-card[draggable=true]");
    if (!card) return;
    event.dataTransfer.setData("text/plain", card.dataset.id);
    event.dataTransfer.effectAllowed = "move";
    card.classList.add("board-card--dragging");
  });
  board.addEventListener("dragend", (event) => {
    const card = event.target.closest(".board-card");
    if (card) card.classList.remove("board-card--dragging");
  });
  for (const section of board.querySelectorAll(".board__column")) {
    section.addEventListener("dragover", (event) => {
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      section.classList.add("board__column--over");
    });
    section.addEventListener("dragleave", () => section.classList.remove("board__column--over"));
    section.addEventListener("drop", (event) => {
      event.preventDefault();
      section.classList.remove("board__column--over");
      const card = document.getElementById(`card-${event.dataTransfer.getData("text/plain")}`);
      if (card) move(card, section.dataset.stage);
    });
  }
}

function enableMoveForms() {
  board.addEventListener("submit", (event) => {
    const form = event.target.closest("form.board-card__move");
    if (!form) return;
    event.preventDefault();
    const card = form.closest(".board-card");
    move(card, form.elements.stage.value).then(() => form.elements.stage.focus());
  });
}

function follow(attempt = 0) {
  const socket = new WebSocket(boardSocketUrl(window.location, board.dataset.socket));
  socket.addEventListener("open", () => {
    attempt = 0;
    board.dataset.live = "on";
  });
  socket.addEventListener("message", (event) => {
    const payload = JSON.parse(event.data);
    const card = document.getElementById(`card-${payload.id}`);
    const what = placement(payload, board.dataset.kind, Number(board.dataset.pipeline), Boolean(card));
    if (what === "move" && card.dataset.stage !== String(payload.stage)) place(card, payload.stage);
    else if (what === "remove") {
      card.remove();
      recount();
    } else if (what === "reload") window.location.reload();
  });
  socket.addEventListener("close", () => {
    board.dataset.live = "off";
    window.setTimeout(() => follow(attempt + 1), reconnectDelay(attempt));
  });
}

if (board) {
  enableDragAndDrop();
  enableMoveForms();
  follow();
}
