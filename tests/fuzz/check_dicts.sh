#!/usr/bin/env bash
# check_dicts.sh DICT_DIR TARGET...: every fuzz target has a libFuzzer
# dictionary (DICT_DIR/TARGET.dict) whose entries libFuzzer can parse:
# comments, blank lines and name="value" lines, where value escapes only
# \\, \" and \xNN. ctest runs it so that a target added without its
# dictionary, or a dictionary libFuzzer would refuse, fails before CI
# fuzzes.
set -uo pipefail
dir=$1
shift
failed=0
entry='^[A-Za-z0-9_]*"([^"\\]|\\\\|\\"|\\x[0-9a-fA-F]{2})*"$'
for name in "$@"; do
	dict=$dir/$name.dict
	if [ ! -f "$dict" ]; then
		echo "not ok - $name: no $dict"
		failed=1
		continue
	fi
	bad=$(grep -v -E '^[[:space:]]*(#.*)?$' "$dict" | sed -E 's/^([A-Za-z0-9_]*)=/\1/' |
		grep -v -E "$entry" | head -n 3)
	count=$(grep -c -E '^[A-Za-z0-9_]*="' "$dict")
	if [ -n "$bad" ] || [ "$count" -eq 0 ]; then
		echo "not ok - $name: bad or no entries: $bad"
		failed=1
	else
		echo "ok - $name: $count entries"
	fi
done
[ -f "$dir/msgpack.dict" ] || { echo "not ok - msgpack.dict missing"; failed=1; }
exit $failed
