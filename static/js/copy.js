// "Copy" buttons: <button data-copy="#id-of-element-with-the-text">. The text stays
// selectable without script; with it, one press puts it on the clipboard.
for (const button of document.querySelectorAll("button[data-copy]")) {
  button.hidden = false;
  button.addEventListener("click", async () => {
    const source = document.querySelector(button.dataset.copy);
    const text = source.value ?? source.textContent.trim();
    const label = button.textContent;
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch {
      window.getSelection().selectAllChildren(source);
      button.textContent = "Press Ctrl+C";
    }
    window.setTimeout(() => { button.textContent = label; }, 2000);
  });
}
