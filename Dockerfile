# One image for every Lookout process (api, worker, all, migrate, keys).
#   docker build -t lookout .
#   GPU hosts (CUDA 12): docker build --build-arg ONNXRUNTIME_NODE_INSTALL=cuda12 -t lookout:cuda .

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc tsconfig.json tsconfig.build.json ./
# Dependencies first (cached while only sources change); the build runs below.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY src ./src
COPY web ./web
RUN npm run build

FROM node:24-bookworm-slim AS runtime
ARG ONNXRUNTIME_NODE_INSTALL=skip
# jemalloc keeps sharp's RSS flat over long runs (glibc malloc fragments);
# postgresql-client brings pg_dump and pg_restore (the major version must be
# at least the server's: bookworm has 15).
RUN apt-get update && apt-get install -y --no-install-recommends libjemalloc2 postgresql-client \
    && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 BLOB_DIR=/data/blobs
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# Production dependencies only. --ignore-scripts skips the prepare build (done
# above); onnxruntime-node's CUDA provider is fetched explicitly when asked for.
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts \
    && if [ "$ONNXRUNTIME_NODE_INSTALL" != "skip" ]; then \
         cd node_modules/onnxruntime-node && ONNXRUNTIME_NODE_INSTALL="$ONNXRUNTIME_NODE_INSTALL" node script/install; \
       fi \
    && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
RUN mkdir -p /data/blobs && chown -R node:node /data
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "bin/lookout.js"]
CMD ["all"]
