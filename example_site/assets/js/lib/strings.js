// String helpers shared by the example's modules.
export const capitalize = (s) => s.charAt(0).toUpperCase() + s.slice(1);

export const truncate = (s, length = 40) => (s.length <= length ? s : `${s.slice(0, length - 1)}…`);

export const words = (s) => s.split(/\s+/).filter((word) => word !== "");
