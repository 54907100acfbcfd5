// The sign-in dialog's last page: hands the issued token to the pane. In Outlook through
// the Office dialog (messageParent); in a plain browser's preview, to the window that
// opened it, on Beacon's own origin only.
"use strict";
(function () {
  const message = JSON.parse(document.getElementById("beacon-token").textContent);
  if (typeof Office !== "undefined") {
    Office.onReady(() => Office.context.ui.messageParent(message));
  } else if (window.opener) {
    window.opener.postMessage({ beaconSignIn: message }, window.location.origin);
  }
})();
