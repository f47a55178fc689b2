// Loaded on demand with import() when the user asks for more: it never delays the first render.
// "nanoid" is a bare specifier: the page's import map (importmap_tag()) resolves it to the vendored,
// hashed node_modules/nanoid/index.browser.js.
import { nanoid } from "nanoid";

export function details(el) {
  if (!el) {
    return;
  }
  el.hidden = false;
  el.setAttribute("aria-live", "polite");
  el.dataset.ticket = nanoid(8);
  el.textContent = "Every file on this page is content-hashed, precompressed and cached for a year.";
}
