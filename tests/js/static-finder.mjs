// A Node module loader hook for the unit tests of the browser modules: a module under one app's
// static/ may import a sibling that lives in another app's static/ (core's geometry.mjs from
// envelopes' signing/state.mjs), as the browser sees them merged under /static/ (Django's
// AppDirectoriesFinder). When the import is not found next to the importer, the same path is
// looked up under each app's static/ in src/qianshu. Used by `make jstest`.
import { existsSync, readdirSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import path from "node:path";

const APPS = fileURLToPath(new URL("../../src/qianshu/", import.meta.url));

function fromAnyApp(url) {
  const file = fileURLToPath(url);
  if (!file.startsWith(APPS)) { return null; }
  const inStatic = file.slice(APPS.length).split(path.sep);
  const at = inStatic.indexOf("static");
  if (at !== 1) { return null; }
  const rest = inStatic.slice(at + 1);
  for (const app of readdirSync(APPS).sort()) {
    const candidate = path.join(APPS, app, "static", ...rest);
    if (existsSync(candidate)) { return pathToFileURL(candidate).href; }
  }
  return null;
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (error.code !== "ERR_MODULE_NOT_FOUND" || !context.parentURL || !specifier.startsWith(".")) { throw error; }
    const found = fromAnyApp(new URL(specifier, context.parentURL));
    if (!found) { throw error; }
    return { url: found, shortCircuit: true };
  }
}
