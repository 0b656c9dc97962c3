#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Generate synthetic SIECLE "Élèves sans adresses" exports for benchmarks.

    bench/gen-siecle.py OUTDIR [--pupils 100000] [--schools 150] [--seed 1]
                               [--change-percent 0] [--zip]
    bench/gen-siecle.py OUTDIR --hostile-children N [--zip]

Writes one ISO-8859-15 export per school, OUTDIR/ElevesSansAdresses-<UAI>.xml (or .zip),
shaped as SIECLE writes them: PARAMETRES, then every ELEVE (with the INE, birth date and
other fields cartable must drop), then STRUCTURES with each pupil's class (D) and groups (G).
Pupils are spread evenly over the schools; names are invented from fixed lists with
accents, hyphens and ligatures. The same arguments give the same bytes.

--change-percent P writes the same population with P % of the pupils changed, for a
re-import: a third move to another class, a third leave (DATE_SORTIE), a third are
replaced by new pupils (new ELEVE_ID). It prints the counts on stderr.

--hostile-children N writes one export, ElevesSansAdresses-hostile.xml (or .zip), whose
only ELEVE has N empty children (<ADRESSE/>): the shape of issue 22's 280 KB zip that took
3 GB to read, for measuring that memory stays flat.
"""
import argparse
import os
import random
import sys
import zipfile

FIRST = ["Léa", "Hugo", "Chloé", "Lucas", "Inès", "Adam", "Zoé", "Nathan", "Manon", "Noé",
         "Jade", "Louis", "Camille", "Raphaël", "Anaïs", "Gabriel", "Maëlle", "Théo", "Sarah",
         "Yanis", "Emma", "Mathéo", "Léna", "Aylan", "Clémence", "Bastien", "Héloïse", "Sacha",
         "Ambre", "Élias", "Jean-Baptiste", "Marie-Ève", "Noël", "Gaëlle", "François", "Zoë"]
FAMILY = ["Moreau", "Lambert", "Faure", "Mercier", "Blanc", "Guérin", "Boyer", "Garnier",
          "Chevalier", "François", "Legrand", "Gauthier", "Perrin", "Robin", "Clément",
          "Morin", "Nicolas", "Henry", "Roussel", "Mathieu", "Masson", "Marchand", "Duval",
          "Dumont", "Lemaire", "Meyer", "Dufour", "Meunier", "Brun", "Blanchard", "Giraud",
          "Rivière", "Brunet", "Gaillard", "Barbier", "Arnaud", "Gérard", "Roche", "Renard",
          "Schmitt", "Leroux", "Colin", "Vidal", "Caron", "Picard", "Fabre", "Aubert",
          "Lacroix", "Cœurderoy", "Martin-Lefèvre", "Da Silva", "N'Diaye", "Œillet", "Šebesta"]
LEVELS = ["6", "5", "4", "3"]
GROUPS = ["LATIN", "ESP", "ALL", "CHORALE", "SECTION_EURO"]
UAI_KEYS = "ABCDEFGHJKLMNPRSTUVWXYZ"


def uai(n):
    digits = f"0{75 + n // 9000:02d}{n % 9000 + 1:04d}"
    return digits + UAI_KEYS[int(digits) % 23]


def pupil(rng, school, serial, classes):
    return {
        "id": str(100000 + serial),
        "family": rng.choice(FAMILY).upper(),
        "first": rng.choice(FIRST),
        "birth": f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(2011, 2015)}",
        "ine": f"{rng.randint(0, 999999999):09d}{rng.choice('ABCDEFGHJK')}{rng.choice('ABCDEFGHJK')}",
        "class": rng.choice(classes),
        "groups": rng.sample(GROUPS, rng.randint(0, 2)),
        "left": None,
    }


def school_xml(code, pupils):
    out = ['<?xml version="1.0" encoding="ISO-8859-15"?>',
           '<BEE_ELEVES VERSION="3.1">',
           '<PARAMETRES>',
           f'<UAJ>{code}</UAJ>',
           '<ANNEE_SCOLAIRE>2026</ANNEE_SCOLAIRE>',
           '<DATE_EXPORT>01/09/2026</DATE_EXPORT>',
           '<HORODATAGE>01/09/2026 08:00:00</HORODATAGE>',
           '</PARAMETRES>',
           '<DONNEES>',
           '<ELEVES>']
    for p in pupils:
        out += [f'<ELEVE ELEVE_ID="{p["id"]}" ELENOET="{int(p["id"]) - 90000}">',
                f'<ID_NATIONAL>{p["ine"]}</ID_NATIONAL>',
                '<ELENOET>0</ELENOET>',
                f'<NOM_DE_FAMILLE>{p["family"]}</NOM_DE_FAMILLE>',
                f'<PRENOM>{p["first"]}</PRENOM>',
                f'<DATE_NAISS>{p["birth"]}</DATE_NAISS>',
                '<CODE_SEXE>1</CODE_SEXE>',
                '<CODE_PAYS>100</CODE_PAYS>',
                '<CODE_REGIME>2</CODE_REGIME>',
                '<DATE_ENTREE>01/09/2026</DATE_ENTREE>']
        if p["left"]:
            out.append(f'<DATE_SORTIE>{p["left"]}</DATE_SORTIE>')
        out += [f'<CODE_MEF>1001000{LEVELS.index(p["class"][0])}110</CODE_MEF>',
                '</ELEVE>']
    out += ['</ELEVES>', '<OPTIONS/>', '<STRUCTURES>']
    for p in pupils:
        out.append(f'<STRUCTURES_ELEVE ELEVE_ID="{p["id"]}">')
        for g in p["groups"]:
            out.append(f'<STRUCTURE><CODE_STRUCTURE>{p["class"][0]}_{g}</CODE_STRUCTURE>'
                       '<TYPE_STRUCTURE>G</TYPE_STRUCTURE></STRUCTURE>')
        out.append(f'<STRUCTURE><CODE_STRUCTURE>{p["class"]}</CODE_STRUCTURE>'
                   '<TYPE_STRUCTURE>D</TYPE_STRUCTURE></STRUCTURE>')
        out.append('</STRUCTURES_ELEVE>')
    out += ['</STRUCTURES>', '</DONNEES>', '</BEE_ELEVES>', '']
    return "\n".join(out).encode("iso-8859-15")


def write_hostile(outdir, children, as_zip):
    head = ('<?xml version="1.0" encoding="ISO-8859-15"?>\n<BEE_ELEVES VERSION="3.1"><PARAMETRES>'
            f'<UAJ>{uai(0)}</UAJ><ANNEE_SCOLAIRE>2026</ANNEE_SCOLAIRE></PARAMETRES><DONNEES><ELEVES>\n'
            '<ELEVE ELEVE_ID="1"><NOM_DE_FAMILLE>HOSTILE</NOM_DE_FAMILLE><PRENOM>Un</PRENOM>').encode()
    tail = ('</ELEVE>\n</ELEVES><STRUCTURES><STRUCTURES_ELEVE ELEVE_ID="1"><STRUCTURE><CODE_STRUCTURE>6A'
            '</CODE_STRUCTURE><TYPE_STRUCTURE>D</TYPE_STRUCTURE></STRUCTURE></STRUCTURES_ELEVE></STRUCTURES>'
            '</DONNEES></BEE_ELEVES>\n').encode()
    name = "ElevesSansAdresses-hostile"
    if as_zip:
        with zipfile.ZipFile(os.path.join(outdir, name + ".zip"), "w", zipfile.ZIP_DEFLATED) as z:
            info = zipfile.ZipInfo(name + ".xml", date_time=(2026, 9, 1, 8, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with z.open(info, "w") as f:
                f.write(head)
                for _ in range(children // 100000):
                    f.write(b"<ADRESSE/>" * 100000)
                f.write(b"<ADRESSE/>" * (children % 100000))
                f.write(tail)
        return
    with open(os.path.join(outdir, name + ".xml"), "wb") as f:
        f.write(head)
        for _ in range(children // 100000):
            f.write(b"<ADRESSE/>" * 100000)
        f.write(b"<ADRESSE/>" * (children % 100000))
        f.write(tail)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--pupils", type=int, default=100000)
    ap.add_argument("--schools", type=int, default=150)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--change-percent", type=float, default=0)
    ap.add_argument("--zip", action="store_true")
    ap.add_argument("--hostile-children", type=int, default=0)
    a = ap.parse_args()
    if a.hostile_children > 0:
        os.makedirs(a.outdir, exist_ok=True)
        write_hostile(a.outdir, a.hostile_children, a.zip)
        return
    if a.schools < 1 or a.pupils < 0:
        ap.error("--schools must be at least 1")

    rng = random.Random(a.seed)
    change = random.Random(a.seed + 1_000_003)
    os.makedirs(a.outdir, exist_ok=True)
    serial = 0
    moved = left = replaced = 0
    for s in range(a.schools):
        code = uai(s)
        n = a.pupils // a.schools + (1 if s < a.pupils % a.schools else 0)
        classes = [lv + letter for lv in LEVELS for letter in "ABCDEFGH"[:max(1, min(8, n // 100))]]
        pupils = []
        for _ in range(n):
            pupils.append(pupil(rng, code, serial, classes))
            serial += 1
        if a.change_percent > 0:
            for i, p in enumerate(pupils):
                if change.random() * 100 >= a.change_percent:
                    continue
                kind = change.randrange(3)
                if kind == 0:
                    p["class"] = change.choice([c for c in classes if c != p["class"]] or classes)
                    moved += 1
                elif kind == 1:
                    p["left"] = "20/11/2026"   # past: the pupil has left
                    left += 1
                else:
                    pupils[i] = pupil(change, code, 10_000_000 + replaced, classes)
                    replaced += 1
        data = school_xml(code, pupils)
        name = f"ElevesSansAdresses-{code}"
        if a.zip:
            with zipfile.ZipFile(os.path.join(a.outdir, name + ".zip"), "w", zipfile.ZIP_DEFLATED) as z:
                info = zipfile.ZipInfo(name + ".xml", date_time=(2026, 9, 1, 8, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, data)
        else:
            with open(os.path.join(a.outdir, name + ".xml"), "wb") as f:
                f.write(data)
    if a.change_percent > 0:
        print(f"gen-siecle: {moved} moved, {left} left, {replaced} replaced", file=sys.stderr)


if __name__ == "__main__":
    main()
