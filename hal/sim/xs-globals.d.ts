/** Globals that the xsnap worker defines (xsnap-worker.c, `xsBuildAgent`). */
declare function issueCommand(message: ArrayBuffer): ArrayBuffer;
declare function print(...values: unknown[]): void;
declare function harden<T>(value: T): T;
// eslint-disable-next-line no-var
declare var handleCommand: ((message: ArrayBuffer) => ArrayBuffer) | undefined;
