# One image for every Tally process: `api` (default), `worker` and `migrate`.
#   docker build -t tally .
#   docker run tally            # API on :8080
#   docker run tally worker     # Temporal worker
#   docker run tally migrate    # apply database migrations, then exit
FROM node:20-bookworm-slim

ENV NODE_ENV=production \
    PORT=8080
WORKDIR /app

# dependencies first (cached while only sources change); tsx runs the TypeScript sources directly
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY tsconfig.json ./
COPY api ./api
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities

COPY deploy/docker-entrypoint.sh /usr/local/bin/tally
RUN chmod 0755 /usr/local/bin/tally

USER node
EXPOSE 8080
ENTRYPOINT ["tally"]
CMD ["api"]
