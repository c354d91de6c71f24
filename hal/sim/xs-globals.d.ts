/** Globals that the xsnap worker defines (xsnap-worker.c, `xsBuildAgent`). */
declare function issueCommand(message: ArrayBuffer): ArrayBuffer;
declare function print(...values: unknown[]): void;
declare function harden<T>(value: T): T;
declare var handleCommand: ((message: ArrayBuffer) => ArrayBuffer) | undefined;
