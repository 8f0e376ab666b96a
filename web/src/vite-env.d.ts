// Vite handles CSS imports (and injects them as <link> in the build).
declare module "*.css";
