// A rotated Secret keeps its `type`, and its value must be of use to what reads that type (the kubelet
// pulls images only with a docker config, an Ingress serves only a certificate matching its key). The
// rules of Kubernetes' built-in types, judged before anything is written: by the value source in
// PLANNING where the source alone decides, by the value itself in CREATING. Messages name the type,
// the key and the fix, never the value, not even a fragment of it.
import type { ValueSource } from './plan';

export const OPAQUE = 'Opaque';

/** The certificate and key of a TLS Secret, as a crypto library judges them (the caller has one; the domain has none). */
export type KeyPairVerdict = 'ok' | 'certificate' | 'key' | 'mismatch';
export type KeyPairCheck = (certificate: string, key: string) => KeyPairVerdict;

interface TypeRule {
  /** Keys that must all be there. */
  allOf?: string[];
  /** At least one of these keys. */
  anyOf?: string[];
  /** What the value must hold, for the messages: the kubelet or controller reads it as that. */
  holds: string;
  /** The value has a structure (JSON, PEM): a generated random string never is one. */
  structured: boolean;
  /** How to produce a good value. */
  fix: string;
  /** The content of one key, judged once the keys are there: a problem (never quoting the value), or null. */
  content?: (data: Record<string, string>, keyPair: KeyPairCheck) => string | null;
}

/** Types rotor does not rotate: Kubernetes (or the token's consumer) manages them, and why. */
const NOT_ROTORS: Record<string, string> = {
  'kubernetes.io/service-account-token':
    'its token is issued and rotated by Kubernetes for the ServiceAccount it names (kubernetes.io/service-account.name); rotor does not rotate it — use a projected serviceAccountToken volume (short-lived, rotated by the kubelet), or delete the Secret to have a new token issued',
  'bootstrap.kubernetes.io/token':
    'bootstrap tokens are for joining nodes and live in kube-system with a format and expiry of their own; rotor does not rotate them — create a new one with `kubeadm token create` and delete the old one with `kubeadm token delete`',
};

function jsonObject(text: string): Record<string, unknown> | null {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
  } catch {
    return null; // the parser's message quotes the text: never passed on
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;
const PEM_KEY = /-----BEGIN ((RSA|EC|ENCRYPTED) )?PRIVATE KEY-----[\s\S]+?-----END ((RSA|EC|ENCRYPTED) )?PRIVATE KEY-----/;

const RULES: Record<string, TypeRule> = {
  'kubernetes.io/dockerconfigjson': {
    allOf: ['.dockerconfigjson'],
    holds: 'a Docker config JSON with an auths object (what the kubelet reads to pull images)',
    structured: true,
    fix: 'put a Docker config JSON with the registry credentials under auths in key .dockerconfigjson (make one with `kubectl create secret docker-registry <name> --docker-server=... --docker-username=... --docker-password=... --dry-run=client -o json`)',
    content: (data) => {
      const config = jsonObject(data['.dockerconfigjson']);
      if (!config) return 'key .dockerconfigjson is not a JSON object';
      const auths = config.auths;
      if (auths === null || typeof auths !== 'object' || Array.isArray(auths)) return 'key .dockerconfigjson has no auths object';
      return null;
    },
  },
  'kubernetes.io/dockercfg': {
    allOf: ['.dockercfg'],
    holds: 'a legacy ~/.dockercfg JSON (what the kubelet reads to pull images)',
    structured: true,
    fix: 'put a JSON object of registry credentials (by registry) in key .dockercfg, or move to kubernetes.io/dockerconfigjson',
    content: (data) => (jsonObject(data['.dockercfg']) ? null : 'key .dockercfg is not a JSON object'),
  },
  'kubernetes.io/tls': {
    allOf: ['tls.crt', 'tls.key'],
    holds: 'a PEM certificate in tls.crt and its PEM private key in tls.key',
    structured: true,
    fix: 'put the PEM certificate (chain) in tls.crt and the private key it was issued for in tls.key (e.g. from cert-manager or `kubectl create secret tls --cert --key --dry-run=client -o json`)',
    content: (data, keyPair) => {
      if (!PEM_CERTIFICATE.test(data['tls.crt'])) return 'key tls.crt holds no PEM certificate block';
      if (!PEM_KEY.test(data['tls.key'])) return 'key tls.key holds no PEM private key block';
      const verdict = keyPair(data['tls.crt'], data['tls.key']);
      if (verdict === 'certificate') return 'key tls.crt cannot be parsed as an X.509 certificate';
      if (verdict === 'key') return 'key tls.key cannot be parsed as a private key';
      if (verdict === 'mismatch') return 'the private key in tls.key does not match the certificate in tls.crt';
      return null;
    },
  },
  'kubernetes.io/basic-auth': {
    anyOf: ['username', 'password'],
    holds: 'a username or a password (or both)',
    structured: false,
    fix: 'name the value keys username and/or password',
  },
  'kubernetes.io/ssh-auth': {
    allOf: ['ssh-privatekey'],
    holds: 'an SSH private key in ssh-privatekey',
    structured: true,
    fix: 'put the SSH private key in key ssh-privatekey (e.g. from `ssh-keygen`)',
  },
};

function prefix(type: string): string {
  return `the Secret type ${type} (kept from the previous version)`;
}

function missingKeys(rule: TypeRule, keys: string[]): string | null {
  const missing = (rule.allOf ?? []).filter((k) => !keys.includes(k));
  if (missing.length) return `key${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing`;
  if (rule.anyOf && !rule.anyOf.some((k) => keys.includes(k))) return `none of the keys ${rule.anyOf.join(', ')} is there`;
  return null;
}

function has(keys: string[]): string {
  return keys.length ? `the value has key${keys.length > 1 ? 's' : ''} ${[...keys].sort().join(', ')}` : 'the value has no key';
}

/** Why rotor never rotates a Secret of this type, or null. */
export function typeRefusal(type: string): string | null {
  const why = NOT_ROTORS[type];
  return why ? `${prefix(type)} is not rotor's to rotate: ${why}` : null;
}

/**
 * PLANNING: why the plan's value source cannot produce a value of `type`, or null. Only sources that
 * can be judged without the value: `generate` (random strings under the plan's keys) and `issuer`
 * (one credential under one key); values read from a file or a store are judged when read.
 */
export function sourceRefusal(type: string, value: ValueSource): string | null {
  const refused = typeRefusal(type);
  if (refused) return refused;
  const rule = RULES[type];
  if (!rule) return null;
  if ('generate' in value) {
    if (rule.structured) {
      return `${prefix(type)} needs ${rule.holds}, and value.generate makes random strings, never that; take the value from fromFile or awsSecretsManager: ${rule.fix}`;
    }
    const missing = missingKeys(rule, value.generate.keys);
    if (missing) return `${prefix(type)} needs ${rule.holds}, but value.generate.keys makes ${value.generate.keys.join(', ')}: ${missing}; ${rule.fix}`;
    return null;
  }
  if ('issuer' in value) {
    const missing = missingKeys(rule, [value.issuer.key]);
    if (missing) return `${prefix(type)} needs ${rule.holds}, but value.issuer puts its one credential in key ${value.issuer.key}: ${missing}; ${rule.fix}`;
  }
  return null;
}

/**
 * CREATING: why `data` is no good as a Secret of `type`, or null. Opaque and types not built into
 * Kubernetes take anything. Never quotes the value.
 */
export function dataRefusal(type: string, data: Record<string, string>, keyPair: KeyPairCheck): string | null {
  const refused = typeRefusal(type);
  if (refused) return refused;
  const rule = RULES[type];
  if (!rule) return null;
  const keys = Object.keys(data);
  const problem = missingKeys(rule, keys) ?? rule.content?.(data, keyPair) ?? null;
  if (!problem) return null;
  return `${prefix(type)} needs ${rule.holds}: ${problem} (${has(keys)}); ${rule.fix}`;
}

/**
 * PLANNING: the one type the plan's new version gets, from the previous versions it replaces (absent:
 * Opaque, as Kubernetes defaults it and older releases recorded nothing). Versions of different types
 * in one plan are refused: one new version cannot keep both.
 */
export function planSecretType(stages: { namespace: string; previousType?: string }[]): { type: string } | { refusal: string } {
  const byType = new Map<string, string[]>();
  for (const s of stages) {
    const type = s.previousType || OPAQUE;
    byType.set(type, [...(byType.get(type) ?? []), s.namespace]);
  }
  if (byType.size <= 1) return { type: [...byType.keys()][0] ?? OPAQUE };
  const each = stages.map((s) => `${s.namespace}: ${s.previousType || OPAQUE}`).join(', ');
  return {
    refusal: `the previous versions differ in Secret type (${each}), and a new version keeps its previous one's type; rotate each type with a plan of its own, or recreate the odd one out with the type the others have`,
  };
}
