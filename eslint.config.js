import js from "@eslint/js";
import tseslint from "typescript-eslint";

/** Globals of the browser that the web client uses (TypeScript checks them; this is for plain JS rules). */
const browserGlobals = Object.fromEntries(
  [
    "window",
    "document",
    "navigator",
    "sessionStorage",
    "localStorage",
    "requestAnimationFrame",
    "XMLHttpRequest",
    "FormData",
    "URL",
    "fetch",
    "console",
    "setTimeout",
    "clearTimeout",
    "HTMLElement",
    "Node",
  ].map((name) => [name, "readonly"]),
);

/** Globals of Node that scripts use. */
const nodeGlobals = Object.fromEntries(
  ["process", "console", "setTimeout", "clearTimeout", "URL", "Buffer"].map((name) => [name, "readonly"]),
);

export default tseslint.config(
  { ignores: ["node_modules/", "data/", "dist/", "dist.*/", "web/dist/", "coverage/", "bench/.cache/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
    },
  },
  {
    // Type-aware rules: a promise is awaited, returned, or handled with .catch/.then(ok, fail); `void` does
    // not count as handling (a rejection would be unhandled), and no promise goes where a callback's
    // result is ignored (an event listener, setTimeout).
    files: ["**/*.ts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-floating-promises": ["error", { ignoreVoid: false }],
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/await-thenable": "error",
    },
  },
  {
    files: ["server/**/*.ts"],
    rules: { "no-console": "error" },
  },
  {
    // The SDK runs in Node and browsers and reports through events and Results, never prints.
    files: ["client/**/*.ts"],
    rules: { "no-console": "error" },
  },
  {
    files: ["web/**/*.{ts,js}"],
    languageOptions: { globals: browserGlobals },
    rules: {
      // User text goes through textContent / createElement only (see web/src/dom.ts).
      "no-restricted-properties": [
        "error",
        { property: "innerHTML", message: "Build elements with h() and text nodes; never parse data as HTML." },
        { property: "outerHTML", message: "Build elements with h() and text nodes; never parse data as HTML." },
        {
          property: "insertAdjacentHTML",
          message: "Build elements with h() and text nodes; never parse data as HTML.",
        },
      ],
    },
  },
  {
    files: ["scripts/**/*.mjs"],
    languageOptions: { globals: nodeGlobals },
  },
);
