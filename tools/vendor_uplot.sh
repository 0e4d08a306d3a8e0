#!/usr/bin/env bash
# Vendor uPlot into the dashboard's static files: a pinned version from the npm registry,
# checked against its pinned sha512 integrity before anything is unpacked (`make vendor`).
set -euo pipefail
VERSION="1.6.32"
INTEGRITY="sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw=="
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${ROOT}/stream/dashboard/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
(cd "${work}" && npm pack --silent "uplot@${VERSION}" >/dev/null)
tarball="${work}/uplot-${VERSION}.tgz"
actual="sha512-$(openssl dgst -sha512 -binary "${tarball}" | base64 -w0)"
if [[ "${actual}" != "${INTEGRITY}" ]]; then
  echo "vendor_uplot: ${tarball} has integrity ${actual}, expected ${INTEGRITY}" >&2
  exit 1
fi
tar -xzf "${tarball}" -C "${work}"
mkdir -p "${DEST}"
cp "${work}/package/dist/uPlot.iife.min.js" "${work}/package/dist/uPlot.min.css" "${DEST}/"
cp "${work}/package/LICENSE" "${DEST}/uPlot.LICENSE"
(cd "${DEST}" && sha256sum uPlot.iife.min.js uPlot.min.css uPlot.LICENSE > uPlot.sha256)
echo "vendored uPlot ${VERSION} into ${DEST}"
