/**
 * A device-side test harness for the Moddable simulator: it opens TLS streams
 * through the real Moddable HAL (hal/moddable: the Mbed TLS engine over
 * Moddable's socket) as a test tells it, and reports what happened. Built by
 * tls-probe.json; driven by test-sim/test/moddable/tls-*.test.ts.
 *
 * The test runs a control server on 127.0.0.1:`controlPort` (plain TCP, one
 * JSON object per line). The probe connects at every boot and says
 * `{"hello": bootReason, "session": retained TLS session bytes}`; each command
 * gets one answer line:
 *
 * - `{"op": "open", host, port, serverName, alpn, credentials, maxVersion, resume, clientId?}`
 *   opens a stream; with `clientId` it sends an MQTT CONNECT once connected,
 *   waits for the CONNACK and closes with `end()`. Answer: `{"connected": {alpn,
 *   resumed, version}, "connack"?, "ended"?}` or `{"error": {category, reason, message}}`.
 * - `{"op": "sleep", ms, clearSession}` answers `{"sleeping": true}`, optionally
 *   wipes the retained TLS session, and deep-sleeps (emulated on mcsim: the
 *   probe boots again with bootReason "deep-sleep").
 * - `{"op": "done"}` closes the control connection.
 */
import config from 'mc/config';
import { Socket } from 'socket';
import TextDecoder from 'text/decoder';
import TextEncoder from 'text/encoder';
import Timer from 'timer';
import type { Hal, LinkError, SecureStream } from '../../../hal/types';
import { startDevice } from '../../../hal/moddable/hal';
import { clearSession, sessionLength } from '../../../hal/moddable/native/tls';

interface OpenCommand {
  op: 'open';
  host: string;
  port: number;
  serverName: string;
  alpn: string[];
  credentials: { ca: string; certificate: string; key: string };
  maxVersion?: '1.2' | '1.3';
  resume?: boolean;
  clientId?: string;
}

interface SleepCommand {
  op: 'sleep';
  ms: number;
  clearSession?: boolean;
}

type Command = OpenCommand | SleepCommand | { op: 'done' };

interface ControlSocket {
  callback: (message: number, value?: number) => void;
  read(type: typeof ArrayBuffer): ArrayBuffer;
  write(data: ArrayBuffer): void;
  close(): void;
}

/** MQTT 3.1.1 CONNECT, clean session, keepalive 60 s (OASIS MQTT 3.1.1, 3.1). */
function mqttConnect(clientId: string): Uint8Array {
  const id = new TextEncoder().encode(clientId);
  const remaining = 10 + 2 + id.length;
  const bytes = new Uint8Array(2 + remaining);
  bytes.set([0x10, remaining, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 60, id.length >> 8, id.length & 0xff], 0);
  bytes.set(id, 14);
  return bytes;
}

function describe(error: LinkError): Record<string, unknown> {
  return { category: error.category, reason: error.reason ?? null, message: error.message };
}

function probe(hal: Hal): void {
  const port = Number((config as Record<string, unknown>).controlPort);
  const socket = new Socket({ host: '127.0.0.1', port }) as unknown as ControlSocket;
  const decoder = new TextDecoder();
  let buffered = '';
  let stream: SecureStream | undefined;

  const send = (answer: Record<string, unknown>): void => {
    socket.write(new TextEncoder().encode(`${JSON.stringify(answer)}\n`).buffer as ArrayBuffer);
  };

  const open = (command: OpenCommand): void => {
    let answered = false;
    const answer = (result: Record<string, unknown>): void => {
      if (answered) return;
      answered = true;
      send(result);
    };
    let connected: Record<string, unknown> | undefined;
    stream = hal.network.openSecure({
      host: command.host,
      port: command.port,
      serverName: command.serverName,
      alpn: command.alpn,
      credentials: command.credentials,
      timeoutMs: 10_000,
      maxVersion: command.maxVersion,
      resume: command.resume,
      onConnect(info) {
        connected = { alpn: info.alpn ?? null, resumed: info.resumed, version: info.version ?? null };
        if (!command.clientId) {
          stream?.close();
          answer({ connected });
          return;
        }
        stream?.write(mqttConnect(command.clientId), { reply: true });
      },
      onData(bytes) {
        // CONNACK: 0x20 0x02 flags code
        if (bytes[0] === 0x20 && bytes.length >= 4) {
          const connack = bytes[3];
          stream?.end(() => answer({ connected, connack, ended: true }));
        }
      },
      onError(error) {
        answer(connected ? { connected, error: describe(error) } : { error: describe(error) });
      },
    });
  };

  const run = (command: Command): void => {
    switch (command.op) {
      case 'open':
        open(command);
        return;
      case 'sleep':
        send({ sleeping: true });
        // Let the answer leave before the HAL halts everything.
        Timer.set(() => {
          socket.close();
          if (command.clearSession) clearSession();
          hal.power.deepSleep(command.ms);
        }, 50);
        return;
      default:
        socket.close();
    }
  };

  socket.callback = (message) => {
    if (message === 1) {
      send({ hello: hal.power.bootReason, session: sessionLength() });
    } else if (message === 2) {
      buffered += decoder.decode(socket.read(ArrayBuffer));
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        run(JSON.parse(line) as Command);
        newline = buffered.indexOf('\n');
      }
    }
  };
}

export default function (): void {
  const g = globalThis as Record<string, unknown>;
  g.TextEncoder ??= TextEncoder;
  g.TextDecoder ??= TextDecoder;
  startDevice((hal) => probe(hal), { platform: 'simulator', config: {} });
}
