export * from "./errors.js";
export * from "./events.js";
export * from "./ids.js";
export * from "./schemas.js";
export * from "./http.js";
