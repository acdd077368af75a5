#!/usr/bin/env bash
# Install the Debian packages Qianshu needs (when missing and running as root).
#   run:  fonts-noto-cjk (seal images and stamp text)
#   test: + poppler-utils (pdfsig, pdftoppm), libnss3-tools (certutil), softhsm2 (PKCS#11), gcc,
#         chromium (Playwright browser tests drive Debian's Chromium), gettext (msgfmt),
#         libreoffice-writer-nogui (Word → PDF conversion of uploads; its test must run, not skip)
#         nodejs (`node --test` runs the unit tests of the browser modules, tests/js/)
#   bench: + apache2-utils (`ab` loads the open API under gunicorn on loopback: a C client, so
#          the load generator does not take the server's Python time)
set -euo pipefail
want=(fonts-noto-cjk)
if [ "${1:-}" = "test" ] || [ "${1:-}" = "bench" ]; then
  want+=(poppler-utils libnss3-tools softhsm2 gcc chromium gettext libreoffice-writer-nogui nodejs)
fi
if [ "${1:-}" = "bench" ]; then
  want+=(apache2-utils)
fi
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != "0" ]; then
  echo "Missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "Installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
