#!/usr/bin/env bash
# Provisions the Apache Kafka broker the tests run (KRaft, single node; test/helpers/kafka-broker.ts)
# from Maven Central: the artifacts scripts/kafka/pom.xml names, resolved by Maven, copied into a
# cache directory outside the clone, keyed by the Kafka version and the pom's hash, so repeated runs
# reuse it. Needs Java 17+ and Maven (scripts/setup.sh --test installs both from apt). Prints the
# directory (its libs/ is the broker's classpath).
#   bash scripts/kafka-setup.sh          provision (if needed) and print the directory
#   bash scripts/kafka-setup.sh --path   print the directory; exit 1 if it is not provisioned
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pom="$here/kafka/pom.xml"
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")"
key="$(cat "$pom" "$here/kafka/log4j2.properties" | sha256sum | cut -c1-12)"
root="${SEGD_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/segd}"
dir="$root/kafka-$version-$key"
if [ "${1:-}" = "--path" ]; then
  if [ -f "$dir/.complete" ]; then echo "$dir"; exit 0; fi
  echo "kafka-setup: Kafka $version is not provisioned in $dir; run: bash scripts/setup.sh --test" >&2
  exit 1
fi
mkdir -p "$root"
# Two set-ups at once (parallel CI jobs, two clones) would delete each other's half-copied jars: take turns.
exec 9>"$root/.kafka-$version-$key.lock"
flock 9
if [ ! -f "$dir/.complete" ]; then
  rm -rf "$dir"
  mkdir -p "$dir"
  # -q: Maven prints only errors; copy-dependencies puts every runtime jar in one folder.
  mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$dir/libs" >&2
  cp "$here/kafka/log4j2.properties" "$dir/log4j2.properties"
  ls "$dir/libs" | grep -q "^kafka_2.13-$version.jar$" || { echo "kafka-setup: kafka_2.13-$version.jar missing after resolution" >&2; exit 1; }
  touch "$dir/.complete"
fi
echo "$dir"
