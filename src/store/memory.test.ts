import { describeStoreConformance } from "./conformance.js";
import { memoryStore } from "./memory.js";

describeStoreConformance("memory", () => memoryStore());
