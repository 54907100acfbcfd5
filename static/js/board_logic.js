// The board's decisions that need no page, tested with `node --test`.

// ws:// or wss:// to `path` on the page's own host.
export function boardSocketUrl(location, path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

// What a board showing `kind` records of pipeline `pipelineId` does with a
// `record.moved` payload: "move" its card, "remove" it (it left the pipeline or was
// archived), "reload" (a card this page has not got came in, e.g. restored), or "ignore".
export function placement(payload, kind, pipelineId, hasCard) {
  if (payload.type !== "record.moved" || payload.kind !== kind) return "ignore";
  if (payload.pipeline !== pipelineId || payload.archived) return hasCard ? "remove" : "ignore";
  return hasCard ? "move" : "reload";
}

// 1 s, 2 s, 4 s ... up to 30 s between reconnection attempts.
export function reconnectDelay(attempt) {
  return Math.min(30000, 1000 * 2 ** attempt);
}
