// Served in place of Microsoft's office.js in the browser tests: the stand-in, installed
// around the item the test describes in window.__standIn (set by an init script).
(function () {
  const options = window.__standIn || {};
  const opener = window.opener;
  const inDialog = Boolean(opener && opener.__beaconDialog);
  OfficeStandIn.install(window, {
    item: inDialog ? null : OfficeStandIn.createItem(options.item || {}),
    stored: options.stored || {},
    parent: inDialog ? (message) => opener.__beaconDialog.deliver(message) : undefined,
    // displayDialogAsync opens the real sign-in page in a window of its own.
    openDialog: (url) => {
      const handlers = {};
      const popup = window.open(url, "beacon-dialog");
      window.__beaconDialog = {
        deliver: (message) => handlers.dialogMessageReceived && handlers.dialogMessageReceived({ message }),
      };
      return {
        addEventHandler: (type, fn) => (handlers[type] = fn),
        close: () => popup && popup.close(),
      };
    },
  });
  if (inDialog) window.Office.context.mailbox = undefined;
})();
