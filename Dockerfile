# mailrelay-exporter: build with the dev dependencies, run with the production
# ones only. Kubernetes probes /-/healthy and /-/ready, so no HEALTHCHECK.
ARG NODE_IMAGE=node:20-alpine

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# Everything `npm run build` compiles (tsconfig.build.json); .dockerignore keeps out the rest.
COPY . .
RUN npm run build

FROM ${NODE_IMAGE} AS production-deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: nothing at runtime needs an install script.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=production-deps /app/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY package.json ./
# The positions file: the exporter's default positions_file is
# /var/lib/mailrelay-exporter/positions.json. The folder belongs to the runtime
# user and is a volume, so positions outlive the container (a named volume
# starts with this owner; a bind-mounted host folder must be owned by 65534).
RUN mkdir -p /var/lib/mailrelay-exporter /etc/mailrelay-exporter \
 && chown 65534:65534 /var/lib/mailrelay-exporter
VOLUME ["/var/lib/mailrelay-exporter"]
# nobody: the exporter only reads the IceWarp folders and writes its positions file.
USER 65534:65534
EXPOSE 10025
ENTRYPOINT ["node", "dist/src/main.js"]
CMD ["--config.file=/etc/mailrelay-exporter/config.yml"]
