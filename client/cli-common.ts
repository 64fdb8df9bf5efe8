// What the CLI's definitions (cli.ts) and the commands they load (commands.ts) share: the exit codes
// and printing a line. Loads nothing.

/** Exit codes, the same for every command (and in `rotor --help`). */
export const EXIT = { ok: 0, error: 1, usage: 2, rolledBack: 3, failed: 4 } as const;

export const out = (text: string) => process.stdout.write(`${text}\n`);
