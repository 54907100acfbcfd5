// The association picker: search as you type; ticked results stay ticked when the
// results change (they move to the chosen ones).
import { fetchFragment } from "./fragments.js";

const search = document.querySelector("[data-picker-search]");
const results = document.querySelector("[data-picker-results]");
let timer = null;
let latest = 0; // the newest search asked for: an older answer arriving late is dropped

function ticked() {
  return [...results.querySelectorAll("input[type=checkbox]:checked")].map((box) =>
    box.closest("label"),
  );
}

async function update() {
  const query = new URLSearchParams(new FormData(search));
  const asked = ++latest;
  const html = await fetchFragment(`${window.location.pathname}?${query}`);
  if (asked !== latest) return;
  // What is ticked now, not when the search left: a box ticked while it was on its way
  // must survive the new results.
  const keep = ticked();
  const wrapper = document.createElement("div");
  wrapper.innerHTML = html;
  for (const label of keep) {
    const input = label.querySelector("input");
    const fieldset = wrapper.querySelector(`fieldset[data-kind="${input.name}"]`);
    const same = fieldset.querySelector(`input[value="${input.value}"]`);
    if (same) {
      same.checked = true;
    } else {
      fieldset.querySelector(".picker__none")?.remove();
      fieldset.querySelector("legend").after(label);
    }
  }
  results.replaceChildren(...wrapper.childNodes);
}

if (search && results) {
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => update().catch((error) => console.error(error)), 200);
  });
  search.addEventListener("submit", (event) => {
    event.preventDefault();
    update().catch(() => search.submit());
  });
}
