// Bundles every frontend/entries/*.js into services/web/static/app/build/<name>.js (+ .css and
// fonts) with esbuild. Run by `npm run build:assets` at set-up; the output is never committed.
import { readdirSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const entriesDir = join(root, "frontend", "entries");
const outdir = join(root, "services", "web", "static", "app", "build");

const entries = readdirSync(entriesDir)
  .filter((name) => name.endsWith(".js"))
  .map((name) => join(entriesDir, name));

rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: entries,
  outdir,
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  legalComments: "linked",
  // Fonts of the modeller's icon sets, referenced from its CSS.
  loader: { ".woff": "file", ".woff2": "file", ".ttf": "file", ".eot": "file", ".svg": "file" },
  assetNames: "assets/[name]-[hash]",
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "warning",
});
console.log(`bundled ${entries.map((e) => basename(e)).join(", ")} into ${outdir}`);
