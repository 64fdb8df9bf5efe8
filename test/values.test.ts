// value.fromFile is confined to the worker's ROTOR_VALUE_DIR: absolute paths outside it, ".." escapes
// and symlinks that lead out are refused with an error that names the field, the directory and the
// fix, and never anything read. Real files, directories and symlinks in a temporary directory.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RotorError } from '../activities/errors';
import { resolveValue } from '../activities/values';
import { loadPlanFile, PlanFileError } from '../client/plan-file';
import { workerConfig } from '../worker/config';
import { buildDeps } from '../worker/deps';

/** What the files outside the value directory hold: no error may ever show it. */
const OUTSIDE_SECRET = 'outside-SECRET-7c1f09';
const INSIDE_SECRET = 'inside-token-42';

let root: string;
let valueDir: string;
let outsideFile: string;

before(() => {
  root = mkdtempSync(join(tmpdir(), 'rotor-values-'));
  valueDir = join(root, 'values');
  mkdirSync(join(valueDir, 'team'), { recursive: true });
  writeFileSync(join(valueDir, 'token.env'), `api_token=${INSIDE_SECRET}\n`);
  writeFileSync(join(valueDir, 'team', 'db.env'), 'password=team-db\n');
  outsideFile = join(root, 'outside.env');
  writeFileSync(outsideFile, `api_token=${OUTSIDE_SECRET}\n`);
  mkdirSync(join(root, 'elsewhere'));
  writeFileSync(join(root, 'elsewhere', 'x.env'), `api_token=${OUTSIDE_SECRET}\n`);
  symlinkSync(outsideFile, join(valueDir, 'link-out.env'));
  symlinkSync(join(root, 'elsewhere'), join(valueDir, 'dir-out'));
  symlinkSync('/proc/self/environ', join(valueDir, 'environ.env'));
  symlinkSync(join(valueDir, 'token.env'), join(valueDir, 'link-in.env'));
  symlinkSync(valueDir, join(root, 'values-link'));
});

after(() => rmSync(root, { recursive: true, force: true }));

async function refused(fromFile: string, options: { valueDir?: string | null } = { valueDir }): Promise<RotorError> {
  try {
    await resolveValue({ fromFile }, options);
  } catch (err) {
    assert.ok(err instanceof RotorError, `a RotorError, got ${err}`);
    assert.equal(err.type, 'RotorInputError');
    assert.equal(err.retryable, false, 'a retry cannot fix a path');
    assert.match(err.message, /^value\.fromFile: /, 'names the field');
    for (const secret of [OUTSIDE_SECRET, INSIDE_SECRET, process.env.PATH ?? '\0']) {
      assert.ok(!err.message.includes(secret), `never shows what a file holds: ${err.message}`);
    }
    return err;
  }
  assert.fail(`${fromFile} was read`);
}

describe('value.fromFile inside ROTOR_VALUE_DIR', () => {
  it('reads a file named relative to the directory, also in a subdirectory', async () => {
    assert.deepEqual(await resolveValue({ fromFile: 'token.env' }, { valueDir }), { api_token: INSIDE_SECRET });
    assert.deepEqual(await resolveValue({ fromFile: './team/db.env' }, { valueDir }), { password: 'team-db' });
    assert.deepEqual(await resolveValue({ fromFile: 'team/../token.env' }, { valueDir }), { api_token: INSIDE_SECRET }, '".." that stays inside is fine');
  });

  it('reads through a symlink that stays inside, and through a symlinked ROTOR_VALUE_DIR', async () => {
    assert.deepEqual(await resolveValue({ fromFile: 'link-in.env' }, { valueDir }), { api_token: INSIDE_SECRET });
    const linked = join(root, 'values-link');
    assert.deepEqual(await resolveValue({ fromFile: 'token.env' }, { valueDir: linked }), { api_token: INSIDE_SECRET });
    assert.deepEqual(await resolveValue({ fromFile: join(linked, 'token.env') }, { valueDir: linked }), { api_token: INSIDE_SECRET });
  });

  it('takes an absolute path inside the directory (plans started before the client kept paths as written)', async () => {
    assert.deepEqual(await resolveValue({ fromFile: join(valueDir, 'token.env') }, { valueDir }), { api_token: INSIDE_SECRET });
  });
});

describe('value.fromFile refused', () => {
  it('without ROTOR_VALUE_DIR, saying to set it', async () => {
    for (const options of [{ valueDir: null }, {}, { valueDir: '' }]) {
      const err = await refused(join(valueDir, 'token.env'), options);
      assert.match(err.message, /the worker has no value directory; set ROTOR_VALUE_DIR=<directory> on the worker/);
    }
  });

  it('an absolute path outside the directory, naming the directory and the fix', async () => {
    const err = await refused(outsideFile);
    assert.equal(
      err.message,
      `value.fromFile: ${outsideFile} is an absolute path outside the worker's value directory ROTOR_VALUE_DIR=${valueDir}; put the file in ${valueDir} and name it relative to it, e.g. fromFile: token.env`,
    );
  });

  it('/proc/self/environ (the worker environment parses as KEY=value), by absolute path, ".." or symlink', async () => {
    assert.match((await refused('/proc/self/environ')).message, /is an absolute path outside the worker's value directory/);
    const up = `${relative(valueDir, '/').replace(/\/?$/, '/')}proc/self/environ`;
    assert.match((await refused(up)).message, /leaves the worker's value directory ROTOR_VALUE_DIR=.* through "\.\."/);
    assert.match((await refused('environ.env')).message, /environ\.env leads through a symlink to outside ROTOR_VALUE_DIR=/);
  });

  it('".." escapes, plain or after a subdirectory', async () => {
    for (const path of ['../outside.env', 'team/../../outside.env', '..']) {
      const err = await refused(path);
      assert.match(
        err.message,
        new RegExp(`${path.replace(/\./g, '\\.')} leaves the worker's value directory ROTOR_VALUE_DIR=${valueDir} through "\\.\\."; put the file in`),
      );
    }
  });

  it('a symlink to a file outside, or through a symlinked directory that leads out', async () => {
    for (const path of ['link-out.env', 'dir-out/x.env']) {
      const err = await refused(path);
      assert.match(
        err.message,
        new RegExp(`${path.replace(/\./g, '\\.')} leads through a symlink to outside ROTOR_VALUE_DIR=${valueDir}; put the file itself in`),
      );
    }
  });

  it('a missing file, a directory, and a ROTOR_VALUE_DIR that does not exist', async () => {
    assert.match((await refused('missing.env')).message, /cannot read missing\.env in ROTOR_VALUE_DIR=.* on the worker \(ENOENT\)/);
    assert.match((await refused('team')).message, /team in ROTOR_VALUE_DIR=.* is not a file; name a KEY=value file/);
    assert.match((await refused('.')).message, /\. in ROTOR_VALUE_DIR=.* is not a file/, 'the directory itself is no file in it');
    assert.match(
      (await refused('token.env', { valueDir: join(root, 'nope') })).message,
      /ROTOR_VALUE_DIR=.*nope cannot be used on the worker \(ENOENT\); set it to an existing directory/,
    );
  });
});

describe('the worker passes ROTOR_VALUE_DIR to the store', () => {
  const memory = () => {
    const world = join(root, 'world.json');
    writeFileSync(world, JSON.stringify({ secrets: [], workloads: [], metrics: {} }));
    return { ROTOR_BACKEND: 'memory', ROTOR_MEMORY_WORLD: world };
  };

  it('reads ROTOR_VALUE_DIR as an absolute directory, none when unset, and refuses one that is missing or a file', () => {
    assert.equal(workerConfig({}).valueDir, null);
    assert.equal(workerConfig({ ROTOR_VALUE_DIR: valueDir }).valueDir, valueDir);
    assert.equal(workerConfig({ ROTOR_VALUE_DIR: relative(process.cwd(), valueDir) }).valueDir, valueDir);
    assert.throws(
      () => workerConfig({ ROTOR_VALUE_DIR: join(root, 'nope') }),
      /ROTOR_VALUE_DIR=.*nope cannot be used \(ENOENT\); set it to an existing directory/,
    );
    assert.throws(() => workerConfig({ ROTOR_VALUE_DIR: outsideFile }), /ROTOR_VALUE_DIR=.*outside\.env is not a directory/);
  });

  it('reports every bad or missing setting at once, each naming its variable, before anything connects', () => {
    const env = { TEMPORAL_ADDRESS: 'localhost', ROTOR_TASK_QUEUE: ' ', ROTOR_BACKEND: 'memory', ROTOR_VALUE_DIR: join(root, 'nope') };
    assert.throws(
      () => workerConfig(env),
      (err: Error & { problems?: string[] }) => {
        assert.match(err.message, /^the worker cannot start; fix these 4 settings:/);
        assert.deepEqual(
          err.problems?.map((p) => p.split(/[= ]/)[0]),
          ['TEMPORAL_ADDRESS', 'ROTOR_TASK_QUEUE', 'the', 'ROTOR_VALUE_DIR'],
          err.message,
        );
        assert.match(err.message, /TEMPORAL_ADDRESS=localhost is not host:port; set it like 127\.0\.0\.1:7233/);
        assert.match(err.message, /the memory backend needs ROTOR_MEMORY_WORLD=<world\.json>/);
        return true;
      },
    );
    const ok = workerConfig({ TEMPORAL_ADDRESS: 'temporal.example.com:7233', TEMPORAL_NAMESPACE: 'rotor', ROTOR_TASK_QUEUE: 'rotor-prod' });
    assert.deepEqual([ok.address, ok.namespace, ok.taskQueue, ok.backend], ['temporal.example.com:7233', 'rotor', 'rotor-prod', 'kubernetes']);
  });

  it('the memory backend reads inside ROTOR_VALUE_DIR and refuses the rest', async () => {
    const request = (fromFile: string) => ({ secret: 's', version: 's-20250101000000', value: { fromFile } });
    const deps = buildDeps(workerConfig({ ...memory(), ROTOR_VALUE_DIR: valueDir }), () => undefined);
    assert.deepEqual(await deps.stores.kubernetes!.stageVersion(request('token.env')), { api_token: INSIDE_SECRET });
    await assert.rejects(
      deps.stores.kubernetes!.stageVersion(request('/proc/self/environ')),
      /value\.fromFile: \/proc\/self\/environ is an absolute path outside/,
    );
    const none = buildDeps(workerConfig(memory()), () => undefined);
    await assert.rejects(none.stores.kubernetes!.stageVersion(request('token.env')), /set ROTOR_VALUE_DIR=<directory> on the worker/);
  });
});

describe('rotor start sends value.fromFile as written, relative to the worker value directory', () => {
  const planWith = (fromFile: string, extra = '') => {
    const file = join(root, `plan-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(
      file,
      `secret: auth-api-secrets\nvalue: { fromFile: ${JSON.stringify(fromFile)} }\nstages: [{ name: staging, namespace: staging }]\n${extra}`,
    );
    return file;
  };

  it('keeps a relative path as written (not resolved against the plan file on the client)', () => {
    assert.deepEqual(loadPlanFile(planWith('team/db.env')).document.value, { fromFile: 'team/db.env' });
    assert.deepEqual(loadPlanFile(planWith('./token.env')).plan.value, { fromFile: './token.env' });
  });

  it('refuses an absolute path and "..", reported with the other issues before anything starts', () => {
    for (const [path, message] of [
      [
        '/proc/self/environ',
        /value\.fromFile: must be relative to the worker's value directory \(ROTOR_VALUE_DIR\), e\.g\. token\.env; .*\(found: "\/proc\/self\/environ"\)/,
      ],
      ['../outside.env', /value\.fromFile: must stay inside the worker's value directory \(ROTOR_VALUE_DIR\): no "\.\."; .*\(found: "\.\.\/outside\.env"\)/],
    ] as const) {
      assert.throws(
        () => loadPlanFile(planWith(path, 'retention: soon\n')),
        (err: unknown) => {
          assert.ok(err instanceof PlanFileError);
          assert.deepEqual(err.issues.map((i) => i.path).sort(), ['retention', 'value.fromFile']);
          assert.match(err.message, /has 2 errors; nothing was started/);
          assert.match(err.message, message);
          return true;
        },
      );
    }
  });
});
