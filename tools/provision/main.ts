/**
 * provision: credentials for the firmware and the simulator.
 *
 *   npm run provision -- dev-pki [--out DIR] [--endpoint NAME] [--devices N] [--days N] [--key-type rsa|ec]
 *   npm run provision -- import --endpoint HOST --cert FILE --key FILE --ca FILE [--thing NAME] [--out DIR]
 *
 * Every failure is one line on stderr, `provision: <what is wrong> — <what to do>`,
 * with exit status 2. Nothing it prints ever contains key material. The commands are in `cli.ts`.
 */
import { runProvision } from './cli';

runProvision(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
}).then((code) => {
  process.exitCode = code;
});
