/**
 * UTF-8 through the engine's TextEncoder/TextDecoder globals (XS under xsnap and
 * Node have them; a Moddable build includes `modules/data/text`). Typed here
 * because device code compiles without DOM or Node typings.
 */
interface TextCodecs {
  TextEncoder: new () => { encode(text: string): Uint8Array };
  TextDecoder: new () => { decode(bytes: Uint8Array): string };
}

let encoder: { encode(text: string): Uint8Array } | undefined;
let decoder: { decode(bytes: Uint8Array): string } | undefined;

export function toUtf8(text: string): Uint8Array {
  encoder ??= new (globalThis as unknown as TextCodecs).TextEncoder();
  return encoder.encode(text);
}

export function fromUtf8(bytes: Uint8Array): string {
  decoder ??= new (globalThis as unknown as TextCodecs).TextDecoder();
  return decoder.decode(bytes);
}
