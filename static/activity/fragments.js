// Server-rendered fragments for in-place updates: the views answer their partial
// when asked with the Beacon-Fragment header (activity/views.py).

const HEADERS = { "Beacon-Fragment": "1" };

export async function fetchFragment(url) {
  const response = await fetch(url, { headers: HEADERS, credentials: "same-origin" });
  if (!response.ok) {
    throw new Error(`${url} answered ${response.status}`);
  }
  return response.text();
}

export async function postForm(form, extra = {}) {
  const data = new FormData(form);
  for (const [name, value] of Object.entries(extra)) {
    data.set(name, value);
  }
  const response = await fetch(form.action, {
    method: "POST",
    body: data,
    headers: HEADERS,
    credentials: "same-origin",
  });
  if (!response.ok) {
    throw new Error(`${form.action} answered ${response.status}`);
  }
  return response;
}

export function nodesOf(html) {
  const template = document.createElement("template");
  template.innerHTML = html.trim();
  return template.content;
}

export function flash(element) {
  element.classList.remove("is-updated");
  // Restart the animation on a repeated update.
  void element.offsetWidth;
  element.classList.add("is-updated");
}
