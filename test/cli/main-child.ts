/** Runs the CLI in a child process with real stdin/stdout (tests of `verify -` and exit codes). */
import { main } from '../../src/cli/main';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(String(e));
    process.exitCode = 99;
  },
);
