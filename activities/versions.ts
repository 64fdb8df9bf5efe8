// A version's life outside the workloads: created (its value staged in the store, issued or
// generated, written as a Secret or an ExternalSecret in every namespace), finalized in the store
// (promoted or marked failed), deleted once nothing uses it; and the PLANNING check of the store.
import type { CreateVersionInput, CredentialOutcome, RotorActivities, SwitchRecord } from '../contract/activities';
import { credentialIdOf } from '../domain/naming';
import { issuerSource, type StoreKind } from '../domain/plan';
import { OPAQUE } from '../domain/secret-types';
import { copiesStillUsed } from './copies';
import { RotorError } from './errors';
import { cleanupWaitingEvents, deletedEvents } from './events';
import { commitExternal, createExternal, externalSecretsOf, externalVersionsReady } from './external-versions';
import { gitOf } from './gitops';
import { credentialOf, issuerOf } from './issuing';
import type { ActivityKit } from './kit';
import type { SecretData, SecretStorePort, SecretStores } from './ports';
import { checkSecretData } from './secret-types';

/** The store a plan names; one this worker lacks is the plan's or the worker's mistake, not a retry's. */
function storeFor(stores: SecretStores, kind: StoreKind): SecretStorePort {
  const store = stores[kind];
  if (!store) {
    const has = Object.keys(stores).join(', ') || 'none';
    throw new RotorError(
      'RotorInputError',
      `the plan's store is ${kind}, but this worker has no ${kind} store (it has: ${has}); run a worker configured for ${kind}`,
    );
  }
  return store;
}

type VersionActivities = Pick<RotorActivities, 'createVersion' | 'deleteVersion' | 'finalizeVersion' | 'checkStore'>;

export function versionActivities(kit: ActivityKit): VersionActivities {
  const { deps, cluster, log, guarded, events } = kit;
  return {
    createVersion: (input: CreateVersionInput) =>
      guarded(`create ${input.version}`, async () => {
        const store = storeFor(deps.stores, input.store);
        // Idempotent by version: a retry reuses the value already written, never generates another.
        let data = null;
        for (const namespace of input.namespaces) {
          const existing = await cluster.readVersion(namespace, input.version);
          if (!existing) continue;
          if (existing.rotationId !== input.rotationId) return { outcome: 'conflict' as const, owner: existing.rotationId ?? 'an unknown creator' };
          data = existing.data;
          break;
        }
        const reused = data !== null;
        // The value must be of use as the type the version keeps: judged before it is staged or written anywhere.
        const type = input.type ?? OPAQUE;
        const check = (value: SecretData) => checkSecretData(type, value);
        const source = issuerSource(input.value);
        // Identities given to the outside are this rotation's alone: two rotations that chose the same
        // version name (same second, another namespace or deployment) never share a credential or a
        // store version, and an "already issued" answer under this id can only be an earlier attempt's.
        const credentialId = input.uniqueIds ? credentialIdOf(input.version, input.rotationId) : input.version;
        const versionId = input.uniqueIds ? store.versionIdFor?.(input.version, input.rotationId) : undefined;
        const staging = { secret: input.secret, version: input.version, value: input.value, target: input.target, ...(versionId ? { versionId } : {}) };
        let credential: CredentialOutcome | undefined;
        if (source && reused) {
          // An earlier attempt issued it and wrote the Secret: say what the issuer holds, issue nothing.
          credential = await credentialOf(credentialId, (id) => issuerOf(deps).status(id));
        } else if (source) {
          // Issued under the rotation's own id: a retry after a lost answer gets the same credential back.
          const issued = await issuerOf(deps).issue({ id: credentialId, ...(source.scope ? { scope: source.scope } : {}) });
          credential = { id: credentialId, state: 'active', issuedAt: issued.issuedAt || null, revokedAt: null, created: issued.created };
          data = await store.stageVersion({ ...staging, issued: { [source.key]: issued.token }, check });
        }
        data ??= await store.stageVersion({ ...staging, check });
        check(data);
        let created = false;
        // Where else the version is kept, written on each copy for `rotor versions`.
        const aws = input.store !== 'kubernetes' ? input.target?.awsSecretsManager : undefined;
        const kept = aws ? { kind: input.store, secretId: aws.secretId, ...(aws.region ? { region: aws.region } : {}) } : undefined;
        // On each copy: its identities outside, and every namespace it was copied to (whatever plan retires it later).
        const identity = input.uniqueIds
          ? { credentialId: source ? credentialId : null, storeVersionId: versionId ?? null, copies: [...new Set(input.namespaces)].sort() }
          : undefined;
        const viaGit = new Map((input.store === 'external-secrets' ? (input.throughGit ?? []) : []).map((g) => [g.namespace, g]));
        const commits: string[] = [];
        for (const namespace of input.namespaces) {
          const spec = {
            namespace,
            name: input.version,
            base: input.secret,
            rotationId: input.rotationId,
            ...(kept ? { store: kept } : {}),
            ...(identity ? { identity } : {}),
            ...(input.type ? { type: input.type } : {}),
          };
          try {
            const through = viaGit.get(namespace);
            if (through) {
              // Git mode: committed beside the stage's workloads; the controller creates it, the operator writes it.
              const committed = await commitExternal(gitOf(deps), store, spec, through, input.target, versionId);
              commits.push(committed.commit);
              created ||= committed.made;
              continue;
            }
            const outcome =
              input.store === 'external-secrets'
                ? await createExternal(deps, store, spec, input.target, versionId)
                : await cluster.createVersion({ ...spec, data });
            created ||= outcome === 'created';
          } catch (err) {
            if (err instanceof RotorError && err.type === 'VersionConflict') return { outcome: 'conflict' as const, owner: err.object ?? 'another rotation' };
            throw err;
          }
        }
        if (input.store === 'external-secrets')
          await externalVersionsReady(deps, input.namespaces, input.version, data, {
            applyMs: Math.max(0, ...[...viaGit.values()].map((g) => g.syncTimeoutMs)),
            commits,
          });
        log('version created', { version: input.version, namespaces: input.namespaces, reused });
        return {
          outcome: created ? ('created' as const) : ('exists' as const),
          namespaces: input.namespaces,
          keys: Object.keys(data).sort(),
          ...(credential ? { credential } : {}),
          ...(versionId ? { storeVersionId: versionId } : {}),
          ...(commits.length ? { commits } : {}),
        };
      }),

    deleteVersion: (input) =>
      guarded(`delete ${input.version}`, async () => {
        // Every namespace first: a holder anywhere keeps the version everywhere, and in the store.
        const holders = await cluster.findReferences(input.namespaces, input.version, { ignore: input.ignore });
        if (holders.length) {
          await events.post(cleanupWaitingEvents(input.version, input.namespaces, holders));
          return { deleted: false as const, holders };
        }
        const deletedFrom: string[] = [];
        for (const namespace of input.namespaces) {
          const outcome = await cluster.deleteUnreferenced(namespace, input.version, {
            externalSecret: input.store === 'external-secrets',
            ignore: input.ignore,
          });
          if (!outcome.deleted && outcome.holders.length) {
            await events.post([...deletedEvents(input.version, deletedFrom), ...cleanupWaitingEvents(input.version, [namespace], outcome.holders)]);
            return { deleted: false as const, holders: outcome.holders };
          }
          deletedFrom.push(namespace);
        }
        await events.post(deletedEvents(input.version, deletedFrom));
        // The store's version outlives every copy of the version, in any namespace, whichever plan cleans up.
        const storeKept =
          input.store === 'kubernetes'
            ? null
            : await copiesStillUsed(
                cluster,
                input.version,
                input.copies,
                (record) => !input.storeVersionId || !record.storeVersionId || record.storeVersionId === input.storeVersionId,
                input.ignore,
              );
        if (storeKept) log('store version kept: a copy elsewhere still needs it', { version: input.version, why: storeKept });
        else
          await storeFor(deps.stores, input.store).deleteVersion({
            secret: input.secret,
            version: input.version,
            target: input.target,
            ...(input.storeVersionId ? { versionId: input.storeVersionId } : {}),
          });
        log('previous version deleted', { version: input.version, namespaces: deletedFrom });
        return { deleted: true as const, namespaces: deletedFrom, ...(storeKept ? { storeKept } : {}) };
      }),

    finalizeVersion: (input) =>
      guarded(`mark ${input.version} ${input.outcome}`, async () => {
        const store = storeFor(deps.stores, input.store);
        const versionId = input.madeBy ? store.versionIdFor?.(input.version, input.madeBy) : undefined;
        const which = versionId ? { versionId } : {};
        if (input.outcome === 'committed') {
          await store.promoteVersion({ secret: input.secret, version: input.version, previousVersion: input.previousVersion, target: input.target, ...which });
        } else {
          await store.markFailed({ secret: input.secret, version: input.version, target: input.target, ...which });
        }
        // Nothing is left to undo or to report: the records of what rotor switched (or reverted) come off the workloads.
        const byNamespace = new Map<string, SwitchRecord[]>();
        for (const r of input.switched ?? []) byNamespace.set(r.namespace, [...(byNamespace.get(r.namespace) ?? []), r]);
        for (const [namespace, records] of byNamespace) await cluster.releaseWorkloads(namespace, records, input.version);
      }),

    checkStore: (input) =>
      guarded(`check the ${input.store} store`, async () => {
        const store = storeFor(deps.stores, input.store);
        const detail = store.check ? await store.check(input.target, input.value) : `${input.store} store ready`;
        if (input.store !== 'external-secrets') return { detail };
        const ref = input.target?.externalSecrets?.secretStoreRef;
        if (!ref) throw new RotorError('RotorInputError', "store external-secrets needs the plan's externalSecrets: { secretStoreRef: { name, kind } }");
        const expect = store.externalProvider ? await store.externalProvider(input.target) : undefined;
        return { detail: `${detail}; ${await externalSecretsOf(deps).checkExternalSecretStore(input.namespaces ?? [], ref, expect)}` };
      }),
  };
}
