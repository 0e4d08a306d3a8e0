#!/usr/bin/env bash
# Debian packages the browser and Prometheus tests need: chromium (driven by Playwright through
# executable_path, so no browser is downloaded) and prometheus (the scrape test). Called by
# .ci/run; `make setup` does not run it (it needs root). Installs only what is missing.
set -euo pipefail
missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
[[ -x /usr/bin/prometheus ]] || missing+=(prometheus)
if (( ${#missing[@]} == 0 )); then
  echo "system packages: chromium and prometheus present"
  exit 0
fi
if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
  echo "system packages: missing ${missing[*]}: install them with apt-get (as root)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "system packages: installed ${missing[*]}"
