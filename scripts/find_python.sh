#!/usr/bin/env bash
# Usage: scripts/find_python.sh 3.11   -> prints the path of a Python 3.11 interpreter, or fails with a clear message.
# Looks on PATH (pythonX.Y, python3), then under pyenv (the bare pyenv shim refuses when the version is not selected).
set -u
want="$1"
ok() { "$1" -c "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$want' else 1)" >/dev/null 2>&1; }
for cand in "python$want" python3; do
  p=$(command -v "$cand" 2>/dev/null) && ok "$p" && { echo "$p"; exit 0; }
done
if command -v pyenv >/dev/null 2>&1; then
  root=$(pyenv root)
  for p in $(ls -d "$root"/versions/"$want".*/bin/python 2>/dev/null | sort -V -r); do
    ok "$p" && { echo "$p"; exit 0; }
  done
fi
for p in /usr/bin/python$want /usr/local/bin/python$want; do
  [ -x "$p" ] && ok "$p" && { echo "$p"; exit 0; }
done
echo "error: no Python $want found (looked on PATH and under pyenv); install it, e.g. 'pyenv install $want'" >&2
exit 1
