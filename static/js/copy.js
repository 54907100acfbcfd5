// "Copy" buttons: <button data-copy="#id-of-element-with-the-text">. The text stays
// selectable without script; with it, one press (click, Enter or Space) puts it on the
// clipboard and a polite live region next to the button says "Copied" to screen readers.
for (const button of document.querySelectorAll("button[data-copy]")) {
  button.hidden = false;
  const status = document.createElement("span");
  status.className = "copy-status";
  status.setAttribute("role", "status");
  button.after(status);
  let timer;
  button.addEventListener("click", async () => {
    const source = document.querySelector(button.dataset.copy);
    const text = source.value ?? source.textContent.trim();
    try {
      await navigator.clipboard.writeText(text);
      status.textContent = "Copied";
    } catch {
      window.getSelection().selectAllChildren(source);
      status.textContent = "Selected: press Ctrl+C to copy";
    }
    window.clearTimeout(timer);
    timer = window.setTimeout(() => { status.textContent = ""; }, 4000);
  });
}
