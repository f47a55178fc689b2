export function details(el) {
  if (el) el.hidden = false;
}
