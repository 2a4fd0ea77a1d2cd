#!/usr/bin/env bash
# segd set-up on a fresh Debian 12 machine (run from the repo root; root or sudo for apt).
#   bash scripts/setup.sh          node dependencies + build: enough to run the daemon
#   bash scripts/setup.sh --test   also the test peers (GStreamer RTSP server, promtool, chromium,
#                                  systemd-analyze, mosquitto, openssl, Java 17 and an Apache Kafka broker from
#                                  Maven Central, a real Triton from PyPI's nvidia-pytriton), the training venv used
#                                  by the test suite, Home Assistant Core's venv (test/ha: ~640 MB) and the
#                                  bench's peer pipelines (scripts/peers: GStreamer's libav plugins, PyAV, onnxruntime)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

want_test=0
for a in "$@"; do
  case "$a" in
    --test) want_test=1 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option '$a' (expected --test or --help)" >&2; exit 2 ;;
  esac
done

apt_install() {
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "setup: apt-get install ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

if [ "$want_test" = 1 ]; then
  apt_install python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
    gstreamer1.0-plugins-bad gstreamer1.0-libav gstreamer1.0-tools prometheus chromium python3-websockets python3-jsonschema systemd python3-venv \
    mosquitto openssl openjdk-17-jre-headless maven
fi

# onnxruntime-node's postinstall would download CUDA/TensorRT libraries from outside the npm registry.
# It never runs: package.json "allowScripts" denies it (npm 11's install-script policy), and npm versions
# without that policy run it with ONNXRUNTIME_NODE_INSTALL=skip, which the script reads and exits on.
# The CPU provider is bundled in the package; CUDA/TensorRT libraries are the operator's to install.
export ONNXRUNTIME_NODE_INSTALL=skip
npm ci --no-audit --no-fund
npm run build

if [ "$want_test" = 1 ]; then
  bash scripts/kafka-setup.sh >/dev/null
  bash training/setup_env.sh >/dev/null
  # The triton engine's tests run a real tritonserver (PyTriton 0.7.0) on Debian's python3.
  bash test/triton/setup_env.sh >/dev/null
  # Home Assistant Core on Debian's Python 3.11 (test/e2e/home-assistant.test.ts), cached outside the clone.
  bash test/ha/setup_env.sh >/dev/null
  # The bench's peers (npm run bench -- --peers; test/integration/bench-peers): Debian's python3 with python3-gi.
  bash scripts/peers/setup_env.sh >/dev/null
fi
echo "setup: done"
