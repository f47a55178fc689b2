// The greeting shown on the page; imports a helper module, which the page preloads transitively.
import { capitalize } from "./strings.js";

export function greet(name) {
  const who = typeof name === "string" && name.trim() !== "" ? name.trim() : "stranger";
  return `Hello, ${capitalize(who)}!`;
}
