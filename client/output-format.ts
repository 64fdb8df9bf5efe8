// kubectl's `-o json|yaml|wide` (and `--json`, kept as an alias of `-o json`): the options and the format
// they ask for, in a module that loads nothing but commander (the CLI defines every command with it).
import { Option } from 'commander';

const OUTPUT_FORMATS = ['json', 'yaml', 'wide'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** `-o json|yaml|wide` and its alias `--json`; `wide` says what it adds. */
export function outputOptions(wide: string): Option[] {
  return [
    new Option('-o, --output <format>', `the output format; wide: ${wide}`).choices(OUTPUT_FORMATS),
    new Option('--json', 'the same as -o json').conflicts('output'),
  ];
}

/** The format the options ask for; undefined: the plain table or text. */
export function outputFormat(opts: { output?: OutputFormat; json?: boolean }): OutputFormat | undefined {
  return opts.json ? 'json' : opts.output;
}

export function isStructured(format: OutputFormat | undefined): format is 'json' | 'yaml' {
  return format === 'json' || format === 'yaml';
}
