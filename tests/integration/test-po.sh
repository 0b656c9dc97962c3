#!/bin/bash
# Translations: po/fr.po has every message xgettext finds, none untranslated or fuzzy, and
# no printf to a person in cmd/ bypasses gettext (a lint: an English literal printed
# without _() fails).
. "$(dirname "$0")/lib.sh"
need_tool msgfmt
need_tool xgettext
need_tool msgcmp
src=${SOURCE_ROOT:?}

# 1. msgfmt --check: formats agree, and every message is translated.
msgfmt --check --statistics -o /dev/null "$src/po/fr.po" 2>stats || { cat stats; fail "msgfmt --check failed"; }
expect_in stats '^[0-9]+ translated messages\.$'
expect_not_in stats 'untranslated|fuzzy'

# 2. Every message of the sources is in fr.po (a new English string fails here).
mapfile -t xgettext_args < "$src/po/xgettext-args"
(cd "$src" && xgettext "${xgettext_args[@]}" -o "$SCRATCH/now.pot" -f po/POTFILES)
msgcmp "$src/po/fr.po" now.pot 2>cmp || { cat cmp; fail "po/fr.po lacks messages of the sources: meson compile cartable-update-po, then translate"; }

# 3. Every cmd/ file that marks messages is in po/POTFILES.
for f in "$src"/cmd/*.c; do
        rel=cmd/${f##*/}
        if grep -q '_("' "$f" && ! grep -qx "$rel" "$src/po/POTFILES"; then
                fail "$rel marks messages but is not in po/POTFILES"
        fi
done

# 3b. lib/'s messages are translated too (cmd/reason.c looks their formats up): every lib/
# file with a format of cart_error_set() & co. is in po/POTFILES, so step 2 covers it.
(cd "$src" && ls lib/*/*.c > "$SCRATCH/lib-files" && xgettext "${xgettext_args[@]}" -o "$SCRATCH/lib.pot" -f "$SCRATCH/lib-files")
grep -o 'lib/[^: ]*\.c' lib.pot | sort -u > lib-with-messages
[ -s lib-with-messages ] || fail "xgettext found no message in lib/"
grep -vxFf "$src/po/POTFILES" lib-with-messages > lib-missing || true
[ ! -s lib-missing ] || { cat lib-missing; fail "these lib/ files have messages but are not in po/POTFILES"; }
# A printf-like function of lib/ is a keyword of po/xgettext-args (its callers' formats are
# msgids), or forwards its format to one that is (a va_list), or is listed here as words
# not translated yet: journal verify's problems, the policy's details (their pieces are
# translated in cmd/reason.c), a station label.
not_keywords='cart_error_vdiag|cart_error_vset|add_part|say|problem|appendf|sys_fail'
(cd "$src" && grep -rhoE '[a-z_]+\([^()]*(\([^()]*\))?[^()]*\) *_printf_|_printf_\([0-9], [0-9]\) [a-z_]+\(' lib) \
        | sed -E 's/_printf_\([0-9], [0-9]\) //; s/\(.*//' | sort -u > printf-like
while read -r fn; do
        [[ $fn =~ ^($not_keywords)$ ]] && continue
        grep -qx -- "--keyword=$fn:[0-9]*" "$src/po/xgettext-args" || fail "lib/'s $fn() takes a format: add it to po/xgettext-args"
done < printf-like
grep -qx 'cart_error_set' printf-like || fail "the printf-like lint found no function"
# A format that is not a literal has no msgid: -Wformat-nonliteral (-Wformat=2) refuses it,
# and only error.c, which renders the formats, may silence it.
(cd "$src" && grep -rln 'Wformat-nonliteral' lib) | grep -vx 'lib/base/error.c' > nonliteral || true
[ ! -s nonliteral ] || { cat nonliteral; fail "lib/ silences -Wformat-nonliteral: give its messages literal formats"; }

# lib/ keeps a system error's errno (cart_error_errno) and never words it: strerror() and
# %m would put the C library's words, in the process's locale, where cmd/ cannot translate.
(cd "$src" && grep -rnE '(^|[^_a-z])strerror(_r)?\(|%m([" :;,)]|$)' lib) > errno_words || true
[ ! -s errno_words ] || { cat errno_words; fail "lib/ words a system error itself: use cart_error_errno()"; }

# 4. The lint: an English literal printed for a person must go through _(). Machine
# output (JSON, CSV) and format-only literals are not words; neither is journal verify's
# BROKEN, a keyword scripts match (cartable-journal(1)).
(cd "$src" && grep -nE '(printf|fputs|log_error|log_fail|log_warn|log_info|usage_error)\((stderr, |stdout, |f, |[a-z>-]+->f, )?"[^"%]*[A-Za-z]{2,}[ :][^"]*"' cmd/*.c) \
        | grep -vE '_\(|N_\(|json|"cartable: "|CARTABLE_VERSION|"BROKEN ' > leaks || true
[ ! -s leaks ] || { cat leaks; fail "English printed without _() in cmd/ (mark it and translate it in po/fr.po)"; }

# The lint can fail: a bare English printf is caught.
mkdir -p lint/cmd
printf 'static void f(void) {\n        printf("a sentence for people\\n");\n}\n' > lint/cmd/x.c
(cd lint && grep -nE '(printf|fputs)\((stderr, |stdout, )?"[^"%]*[A-Za-z]{2,}[ :][^"]*"' cmd/*.c) | grep -vE '_\(' > caught || true
[ -s caught ] || fail "the lint does not catch an unmarked printf"
# 5. Every man page has its French page, with as many sections (a page added to man/, or a
# section added to an English page, without its translation fails here).
for page in "$src"/man/*.scd; do
        fr_page=$src/man/fr/${page##*/}
        [ -f "$fr_page" ] || fail "man/${page##*/} has no French page man/fr/${page##*/}"
        en_n=$(grep -c '^# ' "$page"); fr_n=$(grep -c '^# ' "$fr_page")
        [ "$en_n" = "$fr_n" ] || fail "man/fr/${page##*/}: $fr_n sections, the English page has $en_n"
done
echo "po/fr.po complete, no unmarked message in cmd/, a French page for every man page"
