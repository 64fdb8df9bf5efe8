# The rotor worker image: `docker compose up` builds it; `docker run rotor:1.0.0` runs `rotor worker`.
FROM node:20-bookworm-slim AS build
WORKDIR /rotor
COPY package.json package-lock.json ./
# --ignore-scripts: the sources are not copied yet, so the `prepare` build waits for the tsc below.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tools.json ./
COPY domain domain
COPY contract contract
COPY temporal temporal
COPY workflows workflows
COPY activities activities
COPY worker worker
COPY client client
COPY sandbox sandbox
COPY test test
COPY bench bench
RUN npx tsc -p tsconfig.json && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /rotor
ENV NODE_ENV=production
COPY --from=build /rotor/node_modules node_modules
COPY --from=build /rotor/dist dist
COPY package.json ./
COPY bin bin
COPY examples examples
USER node
ENTRYPOINT ["node", "bin/rotor.js"]
CMD ["worker"]
