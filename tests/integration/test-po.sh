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
(cd "$src" && xgettext --from-code=UTF-8 --keyword=_ --keyword=N_ --keyword=ngettext:1,2 \
        --keyword=P_:1c,2 --add-comments=TRANSLATORS: -o "$SCRATCH/now.pot" -f po/POTFILES)
msgcmp "$src/po/fr.po" now.pot 2>cmp || { cat cmp; fail "po/fr.po lacks messages of the sources: meson compile cartable-update-po, then translate"; }

# 3. Every cmd/ file that marks messages is in po/POTFILES.
for f in "$src"/cmd/*.c; do
        rel=cmd/${f##*/}
        if grep -q '_("' "$f" && ! grep -qx "$rel" "$src/po/POTFILES"; then
                fail "$rel marks messages but is not in po/POTFILES"
        fi
done

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
