// `node --import ./tests/js/register-static.mjs --test …` (make jstest): resolves imports across
// the apps' static/ folders as the browser sees them (static-finder.mjs).
import { register } from "node:module";

register("./static-finder.mjs", import.meta.url);
