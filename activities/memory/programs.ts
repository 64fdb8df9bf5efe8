// What a container of a simulated image does, where no container runtime runs: the sandbox's pod
// simulator (kubelet on the real apiserver) and the memory backend's pre-flight Jobs share it, so a
// Job passes or fails from what the Secret it reads holds, never from a flag. The image
// `rotor.dev/sandbox/check` runs its arguments as one of these programs:
//   http-check --url <url> (--bearer-env <VAR> | --bearer-file <path>)
//       GET <url> with `Authorization: Bearer <the value>`; exit 0 on a 2xx answer, 1 otherwise
//   expect-prefix (--env <VAR> | --file <path>) --prefix <text>
//       exit 0 when the value starts with <text>, 1 otherwise (a missing value: 1)
//   sleep --seconds <n>
//       exit 0 after n seconds (a test that hangs, for a Job's deadline)
// Any other image exits 0 at once, as the pod simulator always did for Jobs.

export const CHECK_IMAGE = 'rotor.dev/sandbox/check';

/** What a container sees: its variables, and the files of its volumes by absolute path. */
export interface ContainerInputs {
  env: Record<string, string>;
  files: Record<string, string>;
}

export interface ProgramRun {
  exitCode: number;
  /** What it printed, a line each. */
  log: string[];
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** The value a program reads: from a variable or a file. */
function valueOf(args: string[], inputs: ContainerInputs, envFlag: string, fileFlag: string): { value?: string; from: string } {
  const variable = flag(args, envFlag);
  if (variable) return { value: inputs.env[variable], from: `$${variable}` };
  const file = flag(args, fileFlag);
  return { value: file ? inputs.files[file] : undefined, from: file ?? '(nothing named)' };
}

export async function runProgram(image: string, command: string[], inputs: ContainerInputs): Promise<ProgramRun> {
  if (!image.startsWith(CHECK_IMAGE)) return { exitCode: 0, log: [] };
  const [program, ...args] = command;
  if (program === 'expect-prefix') {
    const { value, from } = valueOf(args, inputs, '--env', '--file');
    const prefix = flag(args, '--prefix') ?? '';
    if (value === undefined) return { exitCode: 1, log: [`expect-prefix: ${from} is not set`] };
    return value.startsWith(prefix)
      ? { exitCode: 0, log: [`expect-prefix: ${from} starts with ${JSON.stringify(prefix)}`] }
      : { exitCode: 1, log: [`expect-prefix: ${from} does not start with ${JSON.stringify(prefix)}`] };
  }
  if (program === 'sleep') {
    const seconds = Number(flag(args, '--seconds') ?? '0');
    await new Promise((r) => setTimeout(r, seconds * 1000));
    return { exitCode: 0, log: [`slept ${seconds}s`] };
  }
  if (program === 'http-check') {
    const url = flag(args, '--url');
    const { value, from } = valueOf(args, inputs, '--bearer-env', '--bearer-file');
    if (!url) return { exitCode: 2, log: ['http-check: --url is required'] };
    if (value === undefined) return { exitCode: 1, log: [`http-check: ${from} is not set`] };
    try {
      const res = await fetch(url, { headers: { authorization: `Bearer ${value.trim()}` }, signal: AbortSignal.timeout(10_000) });
      const body = (await res.text()).replace(/\s+/g, ' ').slice(0, 200);
      return { exitCode: res.ok ? 0 : 1, log: [`http-check: GET ${url} with the bearer token from ${from}`, `HTTP ${res.status} ${body}`] };
    } catch (err) {
      return { exitCode: 1, log: [`http-check: GET ${url} failed: ${(err as Error).message}`] };
    }
  }
  return { exitCode: 127, log: [`${CHECK_IMAGE}: unknown program ${JSON.stringify(program ?? '')}; use http-check, expect-prefix or sleep`] };
}
