#!/usr/bin/env bash
# Install Debian's chromium, the headless browser tests/test_report.py opens grok's HTML in
# (through playwright, with executable_path=/usr/bin/chromium). Idempotent.
set -euo pipefail

if [[ -x /usr/bin/chromium ]]; then
  echo "install-chromium: $(/usr/bin/chromium --version 2>/dev/null || echo chromium) already installed"
  exit 0
fi
bash "$(dirname "$0")/apt-install.sh" chromium
echo "install-chromium: installed $(/usr/bin/chromium --version 2>/dev/null)"
