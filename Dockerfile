# One image for every Tally process: `api` (default), `worker` and `migrate`.
#   docker build -t tally .
#   docker run tally            # API (and the web console at /) on :8080
#   docker run tally worker     # Temporal worker
#   docker run tally migrate    # apply database migrations, then exit
# the web console (console/): built in its own stage, only console/dist goes into the image
FROM node:20-bookworm-slim AS console
WORKDIR /build/console
COPY console/package.json console/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY console/index.html console/vite.config.ts console/postcss.config.cjs console/tsconfig.json ./
COPY console/src ./src
RUN npm run build

FROM node:20-bookworm-slim

ENV NODE_ENV=production \
    PORT=8080
WORKDIR /app

# dependencies first (cached while only sources change); tsx runs the TypeScript sources directly
# (the postinstall that installs console/'s dependencies does nothing here: scripts/ is not copied)
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY tsconfig.json ./
COPY api ./api
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
COPY --from=console /build/console/dist ./console/dist

COPY deploy/docker-entrypoint.sh /usr/local/bin/tally
RUN chmod 0755 /usr/local/bin/tally

USER node
EXPOSE 8080
ENTRYPOINT ["tally"]
CMD ["api"]
