// Loaded on demand with import() when the user asks for more: it never delays the first render.
export function details(el) {
  if (!el) {
    return;
  }
  el.hidden = false;
  el.setAttribute("aria-live", "polite");
  el.textContent = "Every file on this page is content-hashed, precompressed and cached for a year.";
}
