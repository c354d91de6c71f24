/**
 * A failure the user can fix. The CLI prints it as one line,
 * `provision: <what is wrong> — <what to do>`, and exits 2.
 * Neither part may contain key material: build them from file names and
 * facts about the material, never from its contents or from a parser's message.
 */
export class ProvisionError extends Error {
  constructor(
    readonly what: string,
    readonly todo: string,
  ) {
    super(`${what} — ${todo}`);
    this.name = 'ProvisionError';
  }
}

/** AWS's rule for MQTT client ids (the thing name is used as one): at most 128 bytes, no `$` prefix. */
export function clientIdProblem(id: string): string | undefined {
  if (id.length === 0) return 'is empty';
  if (Buffer.byteLength(id, 'utf8') > 128) return `is ${Buffer.byteLength(id, 'utf8')} bytes (AWS allows 128)`;
  if (id.startsWith('$')) return 'starts with "$", which AWS reserves';
  return undefined;
}
