/** `npm run bench`: every benchmark, one after the other (not part of the tests). */
import { benchCore, printCore } from "./core.js";

printCore(await benchCore());
