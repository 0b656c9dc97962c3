#!/bin/bash
# cartable speaks French under a French locale (po/fr.po, from the build tree through
# $CARTABLE_LOCALEDIR), English otherwise, and its machine output (--json, exit codes)
# is byte-identical in both.
. "$(dirname "$0")/lib.sh"
need_tool mcopy
locale -a 2>/dev/null | grep -qiE '^fr_FR\.utf-?8$' || skip "no fr_FR.UTF-8 locale (tools/install-deps generates it)"
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
expect_in out '^WARN  state-dir        .*/state a le mode 0755 : d.autres peuvent lire ce qui a été écrit ici$'
expect_in out '^ +à faire : chmod 0700 .*/state$'
expect_in out '^OK    trust            1 clé de confiance \(--trust\)$'
expect_in out "^OK    state-space      dossier d'état .*/state : [0-9]+,[0-9] [KMGT]io libres$"
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
