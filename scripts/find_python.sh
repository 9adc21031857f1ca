#!/usr/bin/env sh
# Prints the first Python 3.8-3.10 interpreter that actually runs (Rasa 3.6 supports no other).
# pyenv shims exist even when the version is not selected, so each candidate is executed, not just found.
for candidate in "$PYTHON" python3.10 python3.9 python3.8 \
    "$HOME"/.pyenv/versions/3.10.*/bin/python3.10 "$HOME"/.pyenv/versions/3.9.*/bin/python3.9 python3; do
  [ -n "$candidate" ] || continue
  if "$candidate" -c 'import sys; sys.exit(0 if (3, 8) <= sys.version_info[:2] <= (3, 10) else 1)' \
      >/dev/null 2>&1; then
    command -v "$candidate" 2>/dev/null || echo "$candidate"
    exit 0
  fi
done
echo "No Python 3.8-3.10 found: install python3.10 (Rasa 3.6 needs it) or set PYTHON=/path/to/python3.10" >&2
exit 1
