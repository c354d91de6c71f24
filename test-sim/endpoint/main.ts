/**
 * endpoint: run the local AWS-IoT-like endpoint until Ctrl-C.
 *
 *   npm run endpoint -- [--port 8443] [--host 127.0.0.1] [--pki DIR] [--quiet]
 *
 * Uses the dev PKI in DIR (default .state/dev-pki), making one first when DIR
 * has none, and prints what a client needs to connect.
 */
import { resolve, join } from 'node:path';
import { parseArgs } from 'node:util';
import { AWS_MQTT_ALPN, DEFAULT_DEV_PKI_DIR, ensureDevPki } from '../../tools/provision/pki';
import { createLocalEndpoint, DEFAULT_ENDPOINT_PORT } from './endpoint';

const HELP = `usage: npm run endpoint -- [--port N] [--host ADDR] [--pki DIR] [--quiet]

A local stand-in for the AWS IoT Core data endpoint: TLS 1.2+ with client
certificates, SNI and ALPN ${AWS_MQTT_ALPN} required, AWS broker limits.

  --port N     TCP port (default ${DEFAULT_ENDPOINT_PORT}; 0 for any free port)
  --host ADDR  address to listen on (default 127.0.0.1)
  --pki DIR    dev PKI to use; made there if missing (default ${DEFAULT_DEV_PKI_DIR})
  --quiet      do not print connection events
  -h, --help   this text
`;

function fail(what: string, todo: string): never {
  process.stderr.write(`endpoint: ${what} — ${todo}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        pki: { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    fail(String((error as Error).message).split(/\.\s|\n/)[0], 'see npm run endpoint -- --help');
  }
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const port = values.port === undefined ? DEFAULT_ENDPOINT_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port "${values.port}" is not a port number`, 'pass 0..65535');
  const dir = resolve(values.pki ?? DEFAULT_DEV_PKI_DIR);
  const pki = await ensureDevPki(dir, { onMake: (why) => process.stderr.write(`endpoint: making a dev PKI in ${dir} (${why})\n`) });
  const quiet = values.quiet === true;
  let endpoint;
  try {
    endpoint = await createLocalEndpoint({
      pki,
      host: values.host ?? '127.0.0.1',
      port,
      onEvent: quiet ? undefined : (event, fields) => process.stdout.write(`${new Date().toISOString()} ${event} ${JSON.stringify(fields)}\n`),
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') fail(`port ${port} is in use`, 'pass --port with another port, or 0');
    throw error;
  }
  const device = pki.devices[0];
  process.stdout.write(
    [
      `local AWS IoT endpoint listening on ${endpoint.host}:${endpoint.port}`,
      `  SNI (server name)  ${endpoint.serverName}`,
      `  ALPN               ${endpoint.alpn}`,
      `  TLS                1.2 or 1.3, client certificate required`,
      `  PKI                ${dir}`,
      `  trust (CA)         ${join(dir, 'root-ca.pem')}  (ca.der for Moddable)`,
      `  device             ${join(dir, 'device.pem')} + device.key, thing ${device?.thing ?? '?'}`,
      'Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
  const stop = () => {
    endpoint.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  const e = error as NodeJS.ErrnoException;
  process.stderr.write(`endpoint: ${e?.code ?? 'error'}: ${String(e?.message ?? error).split('\n')[0]} — see npm run endpoint -- --help\n`);
  process.exit(2);
});
