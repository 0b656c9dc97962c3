#!/bin/bash
# The command line itself: help, version, usage errors and their exit codes.
. "$(dirname "$0")/lib.sh"

expect_exit 0 "$CARTABLE" --version
expect_in out '^cartable [0-9]+\.[0-9]+\.[0-9]+$'

expect_exit 0 "$CARTABLE" --help
expect_in out '^Usage: cartable'
expect_in out 'Exit codes'

expect_exit 64 "$CARTABLE"
expect_exit 64 "$CARTABLE" no-such-command
expect_in err "unknown command 'no-such-command'"
# The hint names something to run: never "cartable help " with an empty name.
expect_in err "^Try 'cartable --help'\.$"
expect_not_in err "help '"
expect_exit 64 "$CARTABLE" bogus
expect_in err "^Try 'cartable --help'\.$"
expect_exit 64 "$CARTABLE" --bogus
expect_in err "unknown option '--bogus'"
expect_in err "^Try 'cartable --help'\.$"
expect_exit 64 "$CARTABLE" help no-such-command

# Every command answers --help and 'help NAME' with its usage.
for c in $("$CARTABLE" --help | awk '/^Commands:/{f=1;next} /^$/{f=0} f && $1 != "help" {print $1}'); do
        expect_exit 0 "$CARTABLE" help "$c"
        expect_in out "cartable $c"
        expect_exit 0 "$CARTABLE" "$c" --help
        expect_in out "cartable $c"
done
# A bad option is reported once, naming it, with exit 64 (getopt itself stays silent).
for c in devices flash verify "image build" "image verify" "image show" "image export" "key generate" "key show" \
         "roster import" "roster list" "journal show" "journal export" "journal verify"; do
        expect_exit 64 "$CARTABLE" $c --no-such-option
        expect_in err "^cartable: $c: unknown option or missing argument '--no-such-option'$"
        [ "$(grep -c '' "$SCRATCH/err")" = 2 ] || { cat "$SCRATCH/err"; fail "$c: more than one message"; }
done
echo "cli: ok"
