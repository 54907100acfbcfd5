// A stand-in for the Office.js calls Beacon's add-in makes, for node --test and for the
// pane in Chromium. It keeps one compose item in memory the way Outlook would: recipients,
// subject, HTML body, session data, internet headers and notification messages.
(function (root, factory) {
  const api = factory();
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.OfficeStandIn = api;
})(typeof self !== "undefined" ? self : globalThis, function () {
  "use strict";

  const ok = (value) => ({ status: "succeeded", value });
  const later = (cb, result) => cb && setTimeout(() => cb(result), 0);
  const recipient = (emailAddress) => ({ emailAddress, displayName: emailAddress });

  function recipients(item, kind) {
    return {
      getAsync: (cb) => later(cb, ok(item.state[kind].map(recipient))),
      setAsync: (list, cb) => {
        item.state[kind] = list.map((r) => (typeof r === "string" ? r : r.emailAddress));
        item.changed();
        later(cb, ok());
      },
      addAsync: (list, cb) => {
        item.state[kind].push(...list.map((r) => (typeof r === "string" ? r : r.emailAddress)));
        item.changed();
        later(cb, ok());
      },
    };
  }

  function createItem({ from = "alice@beacon.example", to = [], cc = [], bcc = [], subject = "", html = "<p></p>" } = {}) {
    const handlers = [];
    const item = {
      state: { to: [...to], cc: [...cc], bcc: [...bcc], subject, html, session: {}, headers: {}, notices: {} },
      calls: [],
      changed() {
        handlers.forEach((h) => h({ type: "olkRecipientsChanged" }));
      },
    };
    item.to = recipients(item, "to");
    item.cc = recipients(item, "cc");
    item.bcc = recipients(item, "bcc");
    item.from = { getAsync: (cb) => later(cb, ok({ emailAddress: from, displayName: from })) };
    item.subject = { getAsync: (cb) => later(cb, ok(item.state.subject)) };
    item.body = {
      getAsync: (coercion, cb) => later(cb, ok(item.state.html)),
      setAsync: (html, options, cb) => {
        item.calls.push("body.setAsync");
        item.state.html = html;
        later(cb, ok());
      },
    };
    item.sessionData = {
      getAsync: (key, cb) =>
        later(cb, key in item.state.session ? ok(item.state.session[key]) : { status: "failed", error: { code: 9057, message: "no such key" } }),
      setAsync: (key, value, cb) => {
        item.state.session[key] = String(value);
        later(cb, ok());
      },
    };
    item.internetHeaders = {
      setAsync: (headers, cb) => {
        Object.assign(item.state.headers, headers);
        later(cb, ok());
      },
    };
    item.notificationMessages = {
      replaceAsync: (id, details, cb) => {
        item.state.notices[id] = details;
        later(cb, ok());
      },
    };
    item.addHandlerAsync = (type, handler, cb) => {
      handlers.push(handler);
      later(cb, ok());
    };
    return item;
  }

  function createStorage() {
    const values = new Map();
    return {
      values,
      getItem: async (key) => (values.has(key) ? values.get(key) : null),
      setItem: async (key, value) => void values.set(key, value),
      removeItem: async (key) => void values.delete(key),
    };
  }

  // Office + OfficeRuntime globals around one item. `dialog` decides what the sign-in
  // dialog does: in the browser it opens the real page in a new window.
  function install(root, { item, openDialog, stored = {}, parent } = {}) {
    const associated = {};
    root.Office = {
      CoercionType: { Html: "html", Text: "text" },
      EventType: { RecipientsChanged: "olkRecipientsChanged", DialogMessageReceived: "dialogMessageReceived" },
      MailboxEnums: { ItemNotificationMessageType: { InformationalMessage: "informationalMessage", ErrorMessage: "errorMessage" } },
      context: { mailbox: { item }, ui: {} },
      actions: { associate: (name, fn) => (associated[name] = fn) },
      onReady: (cb) => Promise.resolve({ host: "Outlook" }).then((info) => (cb && cb(info), info)),
      associated,
    };
    root.OfficeRuntime = { storage: createStorage() };
    for (const [key, value] of Object.entries(stored)) root.OfficeRuntime.storage.values.set(key, value);
    // In a dialog: messageParent reaches the pane that opened it.
    if (parent) root.Office.context.ui.messageParent = (message) => parent(message);
    if (openDialog) {
      root.Office.context.ui.displayDialogAsync = (url, options, cb) => {
        const dialog = openDialog(url, options);
        later(cb, ok(dialog));
      };
    }
    return root.Office;
  }

  return { createItem, createStorage, install };
});
