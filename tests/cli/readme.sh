#!/usr/bin/env bash
# readme.sh — README.md documents the command line as it is: every command
# that `ntk --help` lists has a section "### ntk COMMAND" in README.md, and
# every flag of that command's --help (its usage line and the first column
# of its option lines) appears in that section. Catches a flag added to a
# command but not to the README, or a command without a section.
#
# Run by ctest with NTK_BIN (the binary), NTK_TEST_DIR (tests/ in the source
# tree) and TMPDIR. Ends with "N passed, M failed".
set -u

. "$(dirname "$0")/lib.sh"

README="$NTK_TEST_DIR/../README.md"
if [ ! -r "$README" ]; then
    record bad "README.md" "$README is not readable"
    finish
    exit 1
fi

# the commands: the indented names under "commands:" in `ntk --help`
"$NTK_BIN" --help >"$W/help" 2>&1
commands=$(awk '/^commands:/ { on = 1; next } on && /^$/ { exit } on && /^  [a-z]/ { print $1 }' "$W/help")
check "ntk --help lists commands" "no commands found in: $(head -c 300 "$W/help")" test -n "$commands"

# section CMD: the lines of README.md from "### ntk CMD" to the next heading
section() {
    awk -v h="### ntk $1" '
        index($0, h) == 1 && (length($0) == length(h) || substr($0, length(h) + 1, 1) ~ /[ (]/) { on = 1; next }
        on && /^#/ { exit }
        on { print }' "$README"
}

# flags CMD: the usage line's flags and the first column of the option lines
flags() {
    "$NTK_BIN" "$1" --help 2>&1 | awk '
        /^usage:/ { line = $0 }
        /^  --/ { line = substr($0, 3); sub(/  .*/, "", line) }
        line != "" {
            while (match(line, /--[a-z][a-z0-9-]*/)) {
                f = substr(line, RSTART, RLENGTH)
                if (f != "--help") print f
                line = substr(line, RSTART + RLENGTH)
            }
            line = ""
        }' | sort -u
}

for c in $commands; do
    section "$c" >"$W/section"
    if [ ! -s "$W/section" ]; then
        record bad "README section 'ntk $c'" "README.md has no section '### ntk $c'"
        continue
    fi
    record ok "README section 'ntk $c'"
    nflags=0
    for f in $(flags "$c"); do
        nflags=$((nflags + 1))
        if grep -qE -- "$f([^a-z0-9-]|\$)" "$W/section"; then
            record ok "ntk $c $f"
        else
            record bad "ntk $c $f" "in 'ntk $c --help' but not in README.md's section '### ntk $c'"
        fi
    done
    check "ntk $c --help has flags" "found none" test "$nflags" -gt 0
done

finish
