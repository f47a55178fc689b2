// assetpipe example: ES modules importing each other, an asset URL, a lazy module, a source map.
import { greet } from "./lib/greet.js";
import { formatDate } from "./lib/format.js";

const logo = new URL("../img/logo.svg", import.meta.url);

document.addEventListener("DOMContentLoaded", () => {
  const out = document.querySelector("#greeting");
  if (out) {
    out.textContent = `${greet("world")} (${formatDate(new Date(0))})`;
    out.dataset.logo = logo.pathname;
  }
  document.querySelector("#more")?.addEventListener("click", async () => {
    const { details } = await import("./lib/details.js");
    details(document.querySelector("#details"));
  });
});
//# sourceMappingURL=main.js.map
