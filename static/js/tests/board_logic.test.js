import assert from "node:assert/strict";
import { test } from "node:test";

import { boardSocketUrl, placement, reconnectDelay } from "../board_logic.js";

const moved = { type: "record.moved", kind: "deal", id: 7, pipeline: 3, stage: 12 };

test("the socket is on the page's own host, wss behind https", () => {
  assert.equal(boardSocketUrl({ protocol: "https:", host: "crm.example" }, "/ws/boards/3/"), "wss://crm.example/ws/boards/3/");
  assert.equal(boardSocketUrl({ protocol: "http:", host: "127.0.0.1:9000" }, "/ws/boards/3/"), "ws://127.0.0.1:9000/ws/boards/3/");
});

test("a move in this pipeline moves the card, or reloads when the card is new here", () => {
  assert.equal(placement(moved, "deal", 3, true), "move");
  assert.equal(placement(moved, "deal", 3, false), "reload");
});

test("a card that left for another pipeline is removed; others are ignored", () => {
  assert.equal(placement({ ...moved, pipeline: 4 }, "deal", 3, true), "remove");
  assert.equal(placement({ ...moved, pipeline: 4 }, "deal", 3, false), "ignore");
  assert.equal(placement({ ...moved, kind: "ticket" }, "deal", 3, true), "ignore");
  assert.equal(placement({ type: "other" }, "deal", 3, true), "ignore");
});

test("an archived card leaves the board; a restored one not shown yet reloads it", () => {
  assert.equal(placement({ ...moved, archived: true }, "deal", 3, true), "remove");
  assert.equal(placement({ ...moved, archived: true }, "deal", 3, false), "ignore");
  assert.equal(placement({ ...moved, archived: false }, "deal", 3, false), "reload");
});

test("reconnection backs off to at most 30 seconds", () => {
  assert.deepEqual([0, 1, 2, 10].map(reconnectDelay), [1000, 2000, 4000, 30000]);
});
