/**
 * Reading a recording file: the format is told by its content, not its name, so that a
 * file saved under any name is read the way it was written.
 */
import { readFile } from "node:fs/promises";
import type { Recording } from "../recording.js";
import { readJsonl } from "./jsonl.js";

export async function readRecording(file: string): Promise<Recording> {
  return parseRecording(await readFile(file, "utf8"));
}

export function parseRecording(text: string): Recording {
  return readJsonl(text);
}
