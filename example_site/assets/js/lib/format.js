// Date formatting for the greeting, kept in its own module so the page preloads it with modulepreload.
const pad = (n) => String(n).padStart(2, "0");

export function formatDate(d) {
  // ISO 8601 calendar date in UTC, independent of the visitor's locale.
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}
