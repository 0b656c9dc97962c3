#!/bin/bash
# cartable speaks French under a French locale (po/fr.po, from the build tree through
# $CARTABLE_LOCALEDIR), English otherwise, and its machine output (--json, exit codes)
# is byte-identical in both.
. "$(dirname "$0")/lib.sh"
need_tool mcopy
locale -a 2>/dev/null | grep -iE '^fr_FR\.utf-?8$' >/dev/null || skip "no fr_FR.UTF-8 locale (tools/install-deps generates it)"
[ -f "${CARTABLE_LOCALEDIR:?}/fr/LC_MESSAGES/cartable.mo" ] || fail "no French catalogue under $CARTABLE_LOCALEDIR"
export CARTABLE_CONFIG=$SCRATCH/cartable.conf
mkdir state
printf '[station]\nstate-dir = %s/state\n' "$SCRATCH" > cartable.conf
fr() { LC_ALL=fr_FR.UTF-8 LANGUAGE=fr "$@"; }
en() { LC_ALL=C.UTF-8 LANGUAGE= "$@"; }

# --- help: the main help, a command's (both ways), in French; English in the C locale
expect_exit 0 fr "$CARTABLE" --help
expect_in out '^Usage : cartable \[--config FICHIER\] COMMANDE \[OPTIONS\] \[ARGUMENTS\]$'
expect_in out '^  verify +contrôler une clé ou une image d.après son manifeste signé$'
expect_in out '^Codes de sortie : 0 succès ; 1 clé modifiée'
expect_not_in out 'Exit codes'
expect_exit 0 fr "$CARTABLE" help flash
expect_in out '^Usage : cartable flash VERSION CIBLE'
cp out help1
expect_exit 0 fr "$CARTABLE" flash --help
cmp -s out help1 || fail "cartable help flash and flash --help differ in French"
expect_exit 0 en "$CARTABLE" --help
expect_in out '^Usage: cartable \[--config FILE\] COMMAND'
expect_not_in out 'Commandes'
# LANG alone is enough, as for every Debian tool.
expect_exit 0 env -u LC_ALL -u LANGUAGE LANG=fr_FR.UTF-8 "$CARTABLE" help verify
expect_in out '^Usage : cartable verify CIBLE'

# --- a bad option: French words, the same exit code
expect_exit 64 fr "$CARTABLE" verify --bogus
expect_in err "^cartable: verify : option inconnue ou argument manquant « --bogus »$"
expect_in err "^Essayez « cartable help verify »\.$"
expect_exit 64 fr "$CARTABLE" frobnicate
expect_in err "^cartable: commande inconnue « frobnicate »$"

# --- a release, a key, a refused target
mkdir -p content/Cours
echo "Théorème de Pythagore" > content/Cours/pythagore.txt
head -c 70000 /dev/urandom > content/Cours/fiche.pdf
echo "Lisez-moi" > content/LISEZMOI.txt
"$CARTABLE" key generate --secret dep.key --public dep.pub --unencrypted >/dev/null
"$CARTABLE" image build --name college --version 2026.1 --serial 1 --min-size 64M --sealed Cours \
        --label COLLEGE --key dep.key --output rel.cart -q content >/dev/null
# Sizes are the locale's: a decimal comma and French units.
expect_exit 4 fr "$CARTABLE" flash rel.cart small.img --size 32M --trust dep.pub
expect_in err '^cartable: small\.img: vérification: la clé contient 32,0 Mio, la version publiée demande au moins 64,0 Mio$'
[ ! -e small.img ] || fail "a refused flash left small.img behind"
expect_exit 4 en "$CARTABLE" flash rel.cart small.img --size 32M --trust dep.pub
expect_in err '^cartable: small\.img: check: the key holds 32.0 MiB, the release needs at least 64.0 MiB$'
# A target the policy refuses (a character device) is refused in French, with its code in JSON.
expect_exit 4 fr "$CARTABLE" flash rel.cart /dev/null --trust dep.pub --yes
expect_in err 'refusée'
expect_not_in err 'refused'

# --- flash, then a pupil changes a course file: verify says so in French
expect_exit 0 fr "$CARTABLE" flash rel.cart key.img --size 128M --trust dep.pub --time 1700000000 --volume-id 1234-ABCD
expect_in out '^key\.img : ok : college 2026\.1 \(version publiée n° 1\), volume 1234-ABCD, [0-9]+,[0-9] [KMG]io écrits en [0-9]+,[0-9] s, [0-9]+,[0-9] [KMG]io relus en'
cp key.img pupil.img
echo "mes notes" > notes.txt
mcopy -o -i pupil.img@@1M notes.txt ::/Cours/fiche.pdf
expect_exit 1 fr "$CARTABLE" verify pupil.img --trust dep.pub
expect_in out '^modifié +Cours/fiche\.pdf \(10 octets, 70000 attendus\)$'
expect_in out '^pupil\.img : MODIFIÉE : college 2026\.1 \(n° 1, signée par [0-9A-F]+\), volume 1234-ABCD « COLLEGE », [0-9]+ fichiers \([^)]+\) vérifiés ; absents : 0, modifiés : 1, en plus \(autorisés\) : 0'
expect_exit 0 fr "$CARTABLE" verify key.img --trust dep.pub
expect_in out '^key\.img : intacte : '

# --- machine output does not follow the locale: --json byte for byte, exit codes alike
for args in "verify pupil.img --trust dep.pub --json" "verify key.img --trust dep.pub --json" \
            "image show rel.cart --trust dep.pub --json" "flash rel.cart small.img --size 32M --trust dep.pub --json" \
            "devices --all --json"; do
        rc_en=0; rc_fr=0
        # shellcheck disable=SC2086
        en "$CARTABLE" $args > json.en 2>/dev/null || rc_en=$?
        # shellcheck disable=SC2086
        fr "$CARTABLE" $args > json.fr 2>/dev/null || rc_fr=$?
        [ "$rc_en" = "$rc_fr" ] || fail "$args: exit $rc_en in English, $rc_fr in French"
        # Times of a run differ from run to run: only they are left out.
        sed -E 's/"(started|finished|[a-z_]*seconds|[a-z_]*usec)": ?[0-9.e+-]+/"\1":T/g; s/"flashed_at": ?"[^"]*"/"flashed_at":T/g' json.en > a
        sed -E 's/"(started|finished|[a-z_]*seconds|[a-z_]*usec)": ?[0-9.e+-]+/"\1":T/g; s/"flashed_at": ?"[^"]*"/"flashed_at":T/g' json.fr > b
        cmp -s a b || { diff a b | head; fail "$args: --json differs between English and French"; }
        expect_not_in json.fr 'Mio|octets|refusée|modifié'
done
# --- the commands of a key's life and of batches: their help in French, English under C
for c in batch issue lost stolen identify return replace report; do
        expect_exit 0 fr "$CARTABLE" help "$c"
        expect_in out "^Usage : cartable $c "
        expect_not_in out '^Usage:|Exit codes'
        cp out help1
        expect_exit 0 fr "$CARTABLE" "$c" --help
        cmp -s out help1 || fail "cartable help $c and $c --help differ in French"
        expect_exit 0 en "$CARTABLE" help "$c"
        expect_in out "^Usage: cartable $c "
        expect_not_in out 'Codes de sortie'
done
expect_exit 0 fr "$CARTABLE" help batch
expect_in out '^  --stock +mode stock : clés écrites sans élève, remises plus tard$'
expect_exit 0 fr "$CARTABLE" --help
expect_in out '^  batch +écrire beaucoup de clés à la fois, chacune inscrite au nom de son élève$'
expect_in out '^  identify +dire à qui appartient une clé trouvée'
expect_exit 64 fr "$CARTABLE" batch rel.cart --stock --class 6A
expect_in err '^cartable: donnez soit --class C \(avec --school UAI\), soit --stock$'
expect_exit 64 fr "$CARTABLE" return
expect_in err '^cartable: CIBLE attendue$'
expect_exit 64 fr "$CARTABLE" report --format docx
expect_in err "^cartable: report : --format vaut csv, json, html ou pdf, pas « docx »$"

# --- batch without a terminal: one French line per event, the summary with its plurals
# (only roster import and journal init create a journal: a typo never starts a new one)
expect_exit 66 fr "$CARTABLE" batch rel.cart --stock --journal stock.db --trust dep.pub --target b1.img --size 64M
expect_in err "stock\.db: pas de journal : créez-le avec cartable journal init"
expect_exit 0 fr "$CARTABLE" journal init --journal stock.db
expect_in out "^journal stock\.db prêt \(schéma version [0-9]+\)$"
expect_exit 0 fr "$CARTABLE" journal init --journal tty.db
expect_exit 0 fr "$CARTABLE" batch rel.cart --stock --journal stock.db --trust dep.pub --target b1.img --target b2.img --size 64M
expect_in out '^b1\.img : ajoutée : 64,0 Mio$'
expect_in out '^b2\.img : commencée$'
expect_in out '^b1\.img : terminée : [0-9]+,[0-9] [KM]io écrits, [0-9]+,[0-9] [KM]io relus en [0-9]+,[0-9] s ; débranchez-la$'
expect_in out '^bilan : 2 terminées, 0 en échec, 0 interrompue, 0 en cours, [0-9]+,[0-9] s$'
expect_not_in out 'added|done|unplug|summary'
# Already flashed: left alone, in French; the same in English under C.
expect_exit 0 fr "$CARTABLE" batch rel.cart --stock --journal stock.db --trust dep.pub --target b1.img
expect_in out '^b1\.img : laissée : contient déjà cette version intacte : laissée telle quelle \(--force pour l.écrire\)$'
expect_in out '^bilan : 0 terminée, '
expect_exit 0 en "$CARTABLE" batch rel.cart --stock --journal stock.db --trust dep.pub --target b1.img
expect_in out '^b1\.img: skipped: already holds this release intact: left alone \(--force to flash it\)$'
expect_in out '^summary: 0 done, 0 failed, 0 interrupted, 0 running, '
# A key too small fails, its reason in French words (sizes with a decimal comma).
expect_exit 5 fr "$CARTABLE" batch rel.cart --stock --journal stock.db --trust dep.pub --target tiny.img --size 32M
expect_in out '^tiny\.img : échec : .*32,0 Mio.*64,0 Mio'
expect_in out '^bilan : 0 terminée, 1 en échec, '
# Disks the target policy refuses (umockdev beds): each rule in French words.
if command -v umockdev-run >/dev/null; then
        beds=$SOURCE_ROOT/tests/data/umockdev
        expect_exit 0 env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" LC_ALL=fr_FR.UTF-8 \
                LANGUAGE=fr umockdev-run -d "$beds/ro-stick.umockdev" -d "$beds/usb-hdd.umockdev" -- "$CARTABLE" batch \
                "$SCRATCH/rel.cart" --stock --journal "$SCRATCH/stock.db" --trust "$SCRATCH/dep.pub" --idle-exit 1
        expect_in out '^/dev/sdf \(port 2-6, n° de série RO00001\) : refusée : lecture seule \(protégée en écriture\)$'
        expect_in out '^/dev/sdi \(port 2-4, n° de série WXA1HDD2TB\) : refusée : trop grande '
else
        skip_part "needs umockdev-run for the refused disks of a batch"
fi

# On a terminal (script(1) gives a pty), the live table in French: headers as wide as
# their columns in characters, not bytes (N° SÉRIE, ÉLÈVE hold two-byte letters).
if command -v script >/dev/null; then
        TERM=xterm fr script -qec "stty cols 200 rows 50; $CARTABLE batch rel.cart --trust dep.pub --journal $SCRATCH/tty.db --stock \
                --target tt1.img --size 64M" /dev/null > tty.out
        sed -E $'s/\e\\[[0-9;]*[A-Za-z]//g; s/[\r\a]//g' tty.out > tty.txt
                # (200 columns: every column, PUPIL at its widest, 40; PHASE as wide as French needs, 12)
        expect_in tty.txt '^PORT {11}N° SÉRIE {12}TAILLE ÉLÈVE {36}PHASE {11}% {3}Mo/s RESTE RÉSULTAT$'
        expect_in tty.txt '^tt1\.img {8}.{16} {2}64,0 Mio .{40} terminée {5}.* ok, débranchez$'
        expect_in tty.txt '^1 terminée, 0 en échec, 0 interrompue, 0 en cours, [0-9]+,[0-9] s$'
        expect_in tty.out $'\e\\[32mok, débranchez\e\\[0m'
else
        skip_part "needs script(1) for the live table"
fi

# batch --json: the same NDJSON in both locales. What varies from run to run is left out:
# times, rates, the random volume ID, and the progress and step events (sampled at each
# tick: as many as the time allows); a step event's step is checked apart, as a word that is
# not translated.
# Each run flashes a fresh journal and image files of the same names, in its own folder.
ndjson_same() {    # ndjson_same ARGS...: run batch --json ARGS in English and in French, compare
        local lang rc rc_en rc_fr
        for lang in en fr; do
                rm -rf "run-$lang"; mkdir "run-$lang"
                rc=0
                (cd "run-$lang" && $lang "$CARTABLE" journal init --journal j.db >/dev/null &&
                 $lang "$CARTABLE" batch ../rel.cart --stock --journal j.db --trust ../dep.pub \
                        --json "$@" > ../nd.$lang 2>/dev/null) || rc=$?
                if [ $lang = en ]; then rc_en=$rc; else rc_fr=$rc; fi
                python3 - "nd.$lang" > "nd.$lang.cmp" <<'PY' || fail "batch --json $*: a step event without its step word"
import json, re, sys
for line in open(sys.argv[1], encoding="utf-8"):
    o = json.loads(line)
    if o["event"] in ("progress", "step"):
        if o["event"] == "step" and not re.fullmatch(r"[a-z][a-z -]*", str(o.get("step"))):
            sys.exit("a step event without a step word: " + line)
        continue
    for k in ("elapsed", "at", "keys_per_hour", "seconds", "rate", "eta", "started_usec", "volume_id"):
        o.pop(k, None)
    print(json.dumps(o, sort_keys=True, ensure_ascii=False))
PY
        done
        [ "$rc_en" = "$rc_fr" ] || fail "batch --json $*: exit $rc_en in English, $rc_fr in French"
        cmp -s nd.en.cmp nd.fr.cmp || { diff nd.en.cmp nd.fr.cmp | head; fail "batch --json $*: NDJSON differs between English and French"; }
        expect_not_in nd.fr 'Mio|octets|terminée|laissée|échec|débranchez'
}
ndjson_same --target k.img --size 64M
expect_in nd.fr '"event":"done"'
ndjson_same --target tiny.img --size 32M
expect_in nd.fr '"event":"failed".*"reason":"too-small".*"message":".*32\.0 MiB'
# Skipped: the message of a key left alone (the journal knows it flashed it).
for lang in en fr; do (cd "run-$lang" && rm -f tiny.img*; $lang "$CARTABLE" batch ../rel.cart --stock --journal j.db \
        --trust ../dep.pub --target k2.img --size 64M --json >/dev/null); done
(cd run-en && LC_ALL=C.UTF-8 LANGUAGE= "$CARTABLE" batch ../rel.cart --stock --journal j.db --trust ../dep.pub --target k2.img --json) > sk.en
(cd run-fr && LC_ALL=fr_FR.UTF-8 LANGUAGE=fr "$CARTABLE" batch ../rel.cart --stock --journal j.db --trust ../dep.pub --target k2.img --json) > sk.fr
# (its "at", when it happened, differs from run to run)
grep '"event":"skipped"' sk.en | sed 's/"at":[0-9.e+-]*,//' > a; grep '"event":"skipped"' sk.fr | sed 's/"at":[0-9.e+-]*,//' > b
[ -s a ] && cmp -s a b || { cat a b; fail "batch --json: the skipped event differs between English and French"; }

# --- a class, its keys' life in French: batch in roster mode, lost, identify, return, replace
expect_exit 0 en "$CARTABLE" roster import --journal life.db "$SOURCE_ROOT/manifests/rosters/demo-roster.csv"
expect_exit 0 fr "$CARTABLE" batch rel.cart --journal life.db --school 0750001A --class 6A --trust dep.pub --target p1.img --size 64M
expect_in out '^p1\.img : commencée : pour Adam MERCIER 0750001A/D1001$|^p1\.img : commencée : pour .*0750001A/D1001$'
expect_in out '^p1\.img : terminée : .* relus en [0-9]+,[0-9] s, remise à .*0750001A/D1001 ; débranchez-la$'
expect_in out '^bilan : 1 terminée, 0 en échec, 0 interrompue, 0 en cours, 9 élèves sans clé, '
cp p1.img found.img
expect_exit 0 fr "$CARTABLE" identify found.img --journal life.db
expect_in out '^clé : file:.*/p1\.img$'
expect_in out '^volume : [0-9A-F]{4}-[0-9A-F]{4} « COLLEGE »$'
expect_in out '^état : remise$'
expect_in out '^élève : 0750001A/D1001 Mercier Adam, classe 6A$'
expect_in out '^dernière vérification : jamais$'
expect_in out '^fiche de la clé : présente$'
expect_exit 0 en "$CARTABLE" identify found.img --journal life.db
expect_in out '^status: issued$'
expect_in out '^pupil: 0750001A/D1001 Mercier Adam, class 6A$'
# return: verified, recorded, the pupil's own files listed (never printed), in French.
echo "mes notes" > notes.txt
mcopy -i p1.img@@1M notes.txt ::/notes.txt
expect_exit 0 fr "$CARTABLE" return p1.img --journal life.db --trust dep.pub --reason left
expect_in out '^rendue file:.*/p1\.img \(left\) : clé file:.*/p1\.img de 0750001A/D1001, intacte : tous les fichiers de la version intacts$'
expect_in out "^fichiers de l'élève : 1 \(à lui rendre ou à effacer\)$"
expect_in out '^  fichier  notes\.txt \(10 octets\)$'
expect_in err '^cartable: journal : « intacte » inscrit pour la clé file:.*/p1\.img de 0750001A/D1001$'
expect_exit 65 fr "$CARTABLE" return p1.img --journal life.db --trust dep.pub
expect_in err "^cartable: la clé file:.*/p1\.img est rendue, elle n'est pas remise à un élève : elle ne peut pas être rendue ; rien n'a été inscrit$"
# A second key for D1004, then lost and replaced, in French.
expect_exit 0 fr "$CARTABLE" flash rel.cart p2.img --size 64M --trust dep.pub --journal life.db --pupil D1004
expect_exit 0 fr "$CARTABLE" lost --pupil D1004 --journal life.db --operator vie-scolaire
expect_in out "^perdue file:.*/p2\.img : clé file:.*/p2\.img de 0750001A/D1004 \(Denis Manon, 6A\) ; l'élève peut recevoir une nouvelle clé \(cartable replace\)$"
expect_exit 0 fr "$CARTABLE" replace --pupil D1004 rel.cart p3.img --size 64M --journal life.db --trust dep.pub
expect_in out '^remise à 0750001A/D1004 \(Denis Manon, 6A\) ; clé file:.*/p2\.img marquée remplacée$'

# --- report: the HTML report and the receipts sheet in the reader's language; CSV and
# JSON, for scripts, byte for byte the same (the report's date aside)
sixa="--school 0750001A --class 6A"
# shellcheck disable=SC2086
expect_exit 0 fr env TZ=Europe/Paris "$CARTABLE" report --journal life.db $sixa --format html --output r-fr.html
# shellcheck disable=SC2086
expect_exit 0 en "$CARTABLE" report --journal life.db $sixa --format html --output r-en.html
expect_in r-fr.html '<html lang="fr">'
expect_in r-fr.html '^<h1>Clés USB des élèves — 0750001A — 6A</h1>$'
# The date in French words and the reader's time zone: "7 décembre 2026, 15 h 16 CET".
expect_in r-fr.html '<p class="meta">Rapport du [1-9][0-9]? (janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre) 20[0-9]{2}, [0-9]{2} h [0-9]{2} CES?T\. Élèves : 10 ; clés remises : 1 ; sans clé : 9 ; perdues : 1 ; volées : 0 ; remplacées : 1 ; rendues : 1 ; clés remises jamais vérifiées : [01]\.</p>$'
expect_in r-fr.html '<dt>Poste :</dt>.*<dt>Opérateur :</dt>.*<dt>Journal :</dt>.*journal intact.*événements, dernière empreinte'
expect_in r-fr.html '<h2>Élèves sans clé \(9\)</h2>'
expect_in r-fr.html '<th>Établissement</th><th>Classe</th><th>Élèves</th><th>Clés remises</th>'
expect_in r-fr.html '<td class="s-replaced">remplacée</td>'
expect_in r-fr.html '<td class="s-returned">rendue</td>.*intacte</td>'
expect_not_in r-fr.html "Pupils|Keys issued|Receipts"
expect_in r-en.html '<html lang="en">'
expect_in r-en.html '^<h1>Pupils&#39; USB keys — 0750001A — 6A</h1>$'
expect_in r-en.html '<p class="meta">Report of [A-Z][a-z]+ [1-9][0-9]?, 20[0-9]{2}, [0-9]{2}:[0-9]{2} [A-Z]+\. Pupils: 10; keys issued: 1; without a key: 9; lost: 1; stolen: 0; replaced: 1; returned: 1; issued keys never verified: [01]\.</p>$'
expect_in r-en.html '<td class="s-replaced">replaced</td>'
expect_not_in r-en.html 'Élèves|Clés|émargement'
expect_exit 0 fr "$CARTABLE" report receipts --journal life.db --school 0750001A --class 6A --output rc-fr.html
expect_in rc-fr.html "<h1>Feuille d&#39;émargement : remise des clés USB</h1>"
expect_in rc-fr.html '<th>Nom</th><th>Prénom</th><th>Classe</th><th>Remise le</th><th>N° de clé</th><th>Signature</th>'
expect_in rc-fr.html '<td>[0-3][0-9]/[01][0-9]/20[0-9]{2}</td>'
expect_in rc-fr.html 'Date : [1-9][0-9]? (janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre) 20[0-9]{2}\.'
expect_exit 0 fr "$CARTABLE" report labels --journal life.db --school 0750001A --class 6A --output lb-fr.html
expect_in lb-fr.html '<html lang="fr">.*<title>Étiquettes des clés 0750001A 6A</title>'
[ "$(grep -c '<svg class="qr"' lb-fr.html)" = 1 ] || fail "French labels: one key handed over in 6A"
expect_exit 0 en "$CARTABLE" report receipts --journal life.db --school 0750001A --class 6A --output rc-en.html
expect_in rc-en.html '<th>Family name</th><th>First name</th><th>Class</th><th>Issued on</th><th>Key number</th><th>Signature</th>'
for f in csv json; do
        en "$CARTABLE" report --journal life.db --format $f > rep.en
        fr "$CARTABLE" report --journal life.db --format $f > rep.fr
        sed -E 's/"generated(_at)?": ?"[^"]*"//' rep.en > a; sed -E 's/"generated(_at)?": ?"[^"]*"//' rep.fr > b
        cmp -s a b || { diff a b | head; fail "report --format $f differs between English and French"; }
done


# --- lib/'s own words in French (their formats are in the catalogue, cmd/reason.c fills
# them): a bad recipe line, a bad roster line, doctor's findings. No English sentence is
# left, the English is unchanged, and --json is the same in both locales.
english_words='\b(the|is|are|not|has|have|free|running|loaded|yet|was|from|than|this|with|which|cannot|missing|line|unknown|fields)\b'
printf '[release]\nname = college\nbogus = 1\n' > bad.ini
expect_exit 65 fr "$CARTABLE" image build bad.ini --key dep.key --output bad.cart
expect_in err '^cartable: entrée invalide : bad\.ini:3: réglage inconnu « bogus » dans la section \[release\]$'
expect_not_in err "$english_words"
expect_exit 65 en "$CARTABLE" image build bad.ini --key dep.key --output bad.cart
expect_in err '^cartable: bad\.ini:3: unknown setting "bogus" in section \[release\]$'
printf 'id;nom;prénom;classe\n1;Dupont;Jean;3A\n2;Martin\n' > bad.csv
expect_exit 65 fr "$CARTABLE" roster import --school 0750001A --journal j.db bad.csv
expect_in err "^cartable: entrée invalide : bad\.csv : ligne 3 : 2 champs là où l'en-tête \(ligne 1\) en a 4 \(rien n'a été importé\)$"
expect_not_in err "$english_words"
expect_exit 65 en "$CARTABLE" roster import --school 0750001A --journal j.db bad.csv
expect_in err '^cartable: bad\.csv: line 3: 2 fields where the header \(line 1\) has 4 \(nothing was imported\)$'
# doctor: every finding and fix in French (state is 0755 here: a warning with its fix).
fr "$CARTABLE" doctor --trust dep.pub > out 2>&1 || true
# (the status in French too, its column as wide as the longest word: ATTENTION)
expect_in out '^ATTENTION  state-dir        .*/state a le mode 0755 : d.autres peuvent lire ce qui a été écrit ici$'
expect_in out '^ +à faire : chmod 0700 .*/state$'
expect_in out '^OK         trust            1 clé de confiance \(--trust\)$'
expect_in out "^OK         state-space      dossier d'état .*/state : [0-9]+,[0-9] [KMGT]io libres$"
grep -vE '^ +à faire : ' out > findings
expect_not_in findings "$english_words"
en "$CARTABLE" doctor --trust dep.pub > out 2>&1 || true
expect_in out '^WARN  state-dir        .*/state has mode 0755: others can read what was flashed here$'
# A damaged key record, as verify reports it.
cp key.img record.img
printf '{"volume_id": "nope"}' > k.json
mcopy -o -i record.img@@1M k.json ::/.cartable/key.json
fr "$CARTABLE" verify record.img --trust dep.pub > out 2>&1 || true
expect_in out '^fiche-de-la-clé fiche de la clé: « key » manque$'
en "$CARTABLE" verify record.img --trust dep.pub > out 2>&1 || true
expect_in out '^key-record key record: missing "key"$'
for args in "doctor --trust dep.pub --json" "roster import --school 0750001A --journal j.db bad.csv --json" \
            "verify record.img --trust dep.pub --json"; do
        rc_en=0; rc_fr=0
        # shellcheck disable=SC2086
        en "$CARTABLE" $args > json.en 2>/dev/null || rc_en=$?
        # shellcheck disable=SC2086
        fr "$CARTABLE" $args > json.fr 2>/dev/null || rc_fr=$?
        [ "$rc_en" = "$rc_fr" ] || fail "$args: exit $rc_en in English, $rc_fr in French"
        [ -s json.en ] || fail "$args: no JSON"
        # Free space may move between the two runs (other tests write): only it is left out.
        sed -E 's/[0-9.]+ [KMGT]?i?B free/S free/g' json.en > a
        sed -E 's/[0-9.]+ [KMGT]?i?B free/S free/g' json.fr > b
        cmp -s a b || { diff a b | head; fail "$args: --json differs between English and French"; }
done
echo "French output and locale-independent JSON: ok"
