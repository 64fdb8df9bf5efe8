// Plan documents as a user would write them (already parsed from YAML).

export function twoStagePlan(overrides: { staging?: object; production?: object; top?: object } = {}): Record<string, any> {
  return {
    secret: 'auth-api-secrets',
    value: { generate: { keys: ['api_token'], length: 48 } },
    store: 'kubernetes',
    stages: [
      {
        name: 'staging',
        namespace: 'staging',
        workloads: 'auto',
        strategy: 'rolling',
        analysis: { provider: 'prometheus', query: 'sum(rate(errors[1m]))', threshold: 0.01, interval: '1m', failureLimit: 2 },
        soak: '24h',
        ...overrides.staging,
      },
      {
        name: 'production',
        namespace: 'production',
        strategy: { canary: { steps: [10, 25, 50, 100], pause: '10m' } },
        analysis: { provider: 'datadog', query: 'sum:api.auth.errors{env:production}.as_count()', threshold: 10, interval: '1m', failureLimit: 1 },
        watch: '24h',
        ...overrides.production,
      },
    ],
    retention: '14d',
    ...overrides.top,
  };
}
