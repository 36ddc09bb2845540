#!/usr/bin/env bash
# Debian's chromium, plus a CJK font, for tests/test_browser.py. Idempotent: does nothing when both
# are present; installs what is missing when run as root; otherwise prints what to install and
# exits 0 (the browser tests then skip, saying why).
# Playwright's own browser download (`playwright install`) is never used: it fails on these machines.
# Without a CJK font Chromium draws Chinese as empty boxes, so the screenshots would be useless.
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
if ! { command -v fc-list >/dev/null 2>&1 && fc-list :lang=zh family 2>/dev/null | grep -q .; }; then
  need+=(fonts-noto-cjk)
fi
if [ ${#need[@]} -eq 0 ]; then
  echo "install-browser: /usr/bin/chromium and a CJK font are installed"
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  echo "install-browser: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
  [ -x /usr/bin/chromium ] && echo "install-browser: $(/usr/bin/chromium --version 2>/dev/null | head -n1)"
else
  echo "install-browser: missing ${need[*]}; as root run:" >&2
  echo "  apt-get update && apt-get install -y ${need[*]}" >&2
fi
