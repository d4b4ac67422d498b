# Two stages on Debian 12: build with the project's own scripts, run on the runtime
# libraries only. Build: docker build -t kg . ; run: docker run -p 50051:50051 -p 9464:9464 kg
# Without a registry or a container engine: deploy/image/check.sh builds it with buildah on
# locally made Debian base images and checks the result (deploy/image/README.md).
FROM debian:12 AS build
WORKDIR /src
COPY scripts/install_deps.sh scripts/
RUN scripts/install_deps.sh
COPY . .
RUN rm -rf build && CMAKE_ARGS="-DKG_BUILD_TESTS=OFF -DKG_BUILD_BENCH=OFF" scripts/build.sh --target kg_server kgctl \
 && build/client/kgctl/kgctl generate --scale=1 --seed=42 --out=/src/sample.jsonl

FROM debian:12-slim
LABEL org.opencontainers.image.title="kg" \
      org.opencontainers.image.description="kg_server (gRPC knowledge graph) and kgctl, with a sample graph in /data"
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends libgrpc++1.51 libgrpc29 libprotobuf32 \
      libabsl20220623 libspdlog1.10 libfmt9 libprometheus-cpp-core1.0 \
      libprometheus-cpp-pull1.0 libcivetweb1 librocksdb7.8 libc-ares2 libre2-9 libssl3 zlib1g \
      libjemalloc2 libfasttext0 libutf8proc2 libxgboost0 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 kg \
 && useradd --no-log-init --uid 10001 --gid kg --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin kg
COPY --from=build /src/build/server/app/kg_server /src/build/client/kgctl/kgctl /usr/local/bin/
COPY --from=build /src/sample.jsonl /data/sample.jsonl
USER kg
EXPOSE 50051 9464
# Embedded mode with the sample graph; override the command for the split mode, e.g.
#   kg_server --role=partition --host=0.0.0.0 --partition_count=4 --partitions=0,1
ENTRYPOINT ["/usr/local/bin/kg_server", "--host=0.0.0.0"]
CMD ["--role=all", "--load_file=/data/sample.jsonl"]
