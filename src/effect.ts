/** What a tool's call does to the world; everything about how a call is guarded follows from it. */
export type Effect = "read" | "write" | "destructive";
