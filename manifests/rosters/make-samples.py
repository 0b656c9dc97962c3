#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Writes the synthetic roster samples of manifests/rosters/ (invented pupils only).

Run from anywhere: ./make-samples.py [DIR] (default: this script's folder). The output is
byte-identical from run to run (fixed names, fixed zip timestamps), so the committed files
can be checked against it: tests/unit/test-roster.c reads them, manifests/README.md says
what each holds.
"""
import os
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))

# The SIECLE sample's pupils: (ELEVE_ID, family, first, birth, INE, class, groups, left)
# Accents, a hyphenated family name and first name, an œ (ISO-8859-15 only), a pupil who
# left, a pupil in no class, a pupil written with the older <NOM> element.
SIECLE_PUPILS = [
    ("4001", "Martin-Lefèvre", "Jean-Baptiste", "14/02/2014", "070123456AB", "6A", ["6A_LATIN"], None),
    ("4002", "Cœurderoy", "Chloé", "03/11/2013", "070123457AC", "6A", [], None),
    ("4003", "Nguyen", "Éloïse", "22/07/2014", "070123458AD", "6B", ["6_CHORALE"], None),
    ("4004", "Brunet", "Noël", "30/01/2013", "070123459AE", "5A", [], "15/01/2027"),
    ("4005", "Da Silva", "Inès", "09/09/2012", "070123460AF", "4A", ["4_ESP"], None),
    ("4006", "Lefort", "Gaëlle", "17/05/2011", "070123461AG", "3A", [], None),
    ("4007", "Šebesta", "Zoé", "01/12/2012", "070123462AH", None, [], None),
    ("4008", "Ferrand", "François", "25/06/2011", "070123463AJ", "3A", ["3_LATIN"], None),
]
NOM_ONLY = {"4006"}    # written as <NOM>, as exports before 2015 were

SIECLE_UAI = "0750001A"


def siecle_xml(pupils, uai, year, with_uai=True):
    out = ['<?xml version="1.0" encoding="ISO-8859-15"?>',
           '<BEE_ELEVES VERSION="3.1">',
           '  <PARAMETRES>']
    if with_uai:
        out.append(f'    <UAJ>{uai}</UAJ>')
    out += [f'    <ANNEE_SCOLAIRE>{year}</ANNEE_SCOLAIRE>',
            '    <DATE_EXPORT>01/09/2026</DATE_EXPORT>',
            '    <HORODATAGE>01/09/2026 08:00:00</HORODATAGE>',
            '  </PARAMETRES>',
            '  <DONNEES>',
            '    <ELEVES>']
    for (eid, fam, first, birth, ine, cls, groups, left) in pupils:
        nom = "NOM" if eid in NOM_ONLY else "NOM_DE_FAMILLE"
        out += [f'      <ELEVE ELEVE_ID="{eid}" ELENOET="{int(eid) - 3000}">',
                f'        <ID_NATIONAL>{ine}</ID_NATIONAL>',
                f'        <{nom}>{fam.upper()}</{nom}>',
                f'        <PRENOM>{first}</PRENOM>',
                f'        <DATE_NAISS>{birth}</DATE_NAISS>',
                '        <CODE_SEXE>1</CODE_SEXE>',
                '        <CODE_PAYS>100</CODE_PAYS>',
                '        <DATE_ENTREE>01/09/2026</DATE_ENTREE>']
        if left:
            out.append(f'        <DATE_SORTIE>{left}</DATE_SORTIE>')
        out += ['        <CODE_REGIME>2</CODE_REGIME>',
                '      </ELEVE>']
    out += ['    </ELEVES>',
            '    <OPTIONS/>',
            '    <STRUCTURES>']
    for (eid, fam, first, birth, ine, cls, groups, left) in pupils:
        if not cls and not groups:
            continue
        out.append(f'      <STRUCTURES_ELEVE ELEVE_ID="{eid}" ELENOET="{int(eid) - 3000}">')
        # A group listed before the class, as real exports sometimes do.
        for g in groups:
            out += ['        <STRUCTURE>',
                    f'          <CODE_STRUCTURE>{g}</CODE_STRUCTURE>',
                    '          <TYPE_STRUCTURE>G</TYPE_STRUCTURE>',
                    '        </STRUCTURE>']
        if cls:
            out += ['        <STRUCTURE>',
                    f'          <CODE_STRUCTURE>{cls}</CODE_STRUCTURE>',
                    '          <TYPE_STRUCTURE>D</TYPE_STRUCTURE>',
                    '        </STRUCTURE>']
        out.append('      </STRUCTURES_ELEVE>')
    out += ['    </STRUCTURES>',
            '  </DONNEES>',
            '</BEE_ELEVES>', '']
    return "\r\n".join(out).encode("iso-8859-15")


def ent_csv():
    """An ENT's export: ';', ISO-8859-1, every value as ="..." (spreadsheets keep leading
    zeros), an Identifiant column, extra columns cartable must drop."""
    rows = [["Identifiant", "Nom", "Prénom", "Classe", "Date de naissance", "Adresse mail", "Profil"]]
    pupils = [
        ("jb.martinlefevre", "MARTIN-LEFÈVRE", "Jean-Baptiste", "6A", "14/02/2014"),
        ("c.dupre", "DUPRÉ", "Chloé", "6A", "03/11/2013"),
        ("e.nguyen", "NGUYEN", "Éloïse", "6B", "22/07/2014"),
        ("n.brunet", "BRUNET", "Noël", "5A", "30/01/2013"),
        ("i.dasilva", "DA SILVA", "Inès", "4A", "09/09/2012"),
        ("f.ferrand", "FERRAND", "François", "3A", "25/06/2011"),
    ]
    for (login, fam, first, cls, birth) in pupils:
        rows.append([login, fam, first, cls, birth, login + "@ent.example", "Élève"])
    text = "\r\n".join(";".join('="' + v + '"' for v in r) for r in rows) + "\r\n"
    return text.encode("iso-8859-1")


def bom_csv():
    """A spreadsheet saved as "CSV UTF-8": BOM, ',', no id column (ids are derived from
    UAI, names and birth date), a quoted field holding a comma and one holding a newline,
    twin homonyms kept apart by their birth dates."""
    lines = [
        "UAI,Nom de famille,Prénom,Division,Date de naissance,Téléphone",
        "0750002B,Rousseau,Léa,6C,12/04/2014,0600000001",
        '0750002B,"Duval, dite Lalande",Maëlys,6C,02/02/2014,0600000002',
        '0750002B,Okafor,"Adaeze\nNkem",5B,19/10/2013,',
        "0750002B,Bernard,Lucas,5B,07/03/2013,",
        "0750002B,Bernard,Lucas,5B,08/03/2013,",
        "0750002B,Åkesson,Œnone,4C,28/08/2012,",
    ]
    return b"\xef\xbb\xbf" + ("\n".join(lines) + "\n").encode("utf-8")


FIRST = ["Léa", "Hugo", "Chloé", "Lucas", "Inès", "Adam", "Zoé", "Nathan", "Manon", "Noé",
         "Jade", "Louis", "Camille", "Raphaël", "Anaïs", "Gabriel", "Maëlle", "Théo", "Sarah",
         "Yanis", "Emma", "Mathéo", "Léna", "Aylan", "Clémence", "Bastien", "Héloïse", "Sacha",
         "Ambre", "Élias"]
FAMILY = ["Moreau", "Lambert", "Faure", "Mercier", "Blanc", "Guérin", "Boyer", "Garnier",
          "Chevalier", "François", "Legrand", "Gauthier", "Perrin", "Robin", "Clément",
          "Morin", "Nicolas", "Henry", "Roussel", "Mathieu", "Gautier", "Masson", "Marchand",
          "Duval", "Denis", "Dumont", "Marie", "Lemaire", "Noël", "Meyer", "Dufour", "Meunier",
          "Brun", "Blanchard", "Giraud", "Joly", "Rivière", "Lucas", "Brunet", "Gaillard",
          "Barbier", "Arnaud", "Martinez", "Gérard", "Roche", "Renard", "Schmitt", "Roy",
          "Leroux", "Colin", "Vidal", "Caron", "Picard", "Roger", "Fabre", "Aubert", "Lemoine",
          "Renaud", "Dumas", "Lacroix"]


def demo_csv():
    """The README's two-school demo: UTF-8, ';', an id per pupil, 60 pupils, 3 classes
    per school, one pupil who has left, one hyphenated name."""
    lines = ["id;uai;classe;nom;prénom;date de sortie"]
    schools = [("0750001A", "D1", ["6A", "5A", "4A"]), ("0750002B", "D2", ["6B", "5B", "3B"])]
    n = 0
    for (uai, prefix, classes) in schools:
        for i in range(30):
            fam = FAMILY[(7 * n + 3) % len(FAMILY)]
            first = FIRST[(11 * n + 5) % len(FIRST)]
            if n == 4:
                fam = "Martin-Lefèvre"
            left = "15/01/2027" if n == 41 else ""
            lines.append(f"{prefix}{i + 1:03d};{uai};{classes[i % 3]};{fam};{first};{left}")
            n += 1
    return ("\n".join(lines) + "\n").encode("utf-8")


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else HERE
    os.makedirs(out, exist_ok=True)
    xml = siecle_xml(SIECLE_PUPILS, SIECLE_UAI, "2026")
    write(os.path.join(out, "ElevesSansAdresses.xml"), xml)
    with zipfile.ZipFile(os.path.join(out, "ElevesSansAdresses.zip"), "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo("ElevesSansAdresses.xml", date_time=(2026, 9, 1, 8, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        z.writestr(info, xml)
    write(os.path.join(out, "ent-export.csv"), ent_csv())
    write(os.path.join(out, "tableur-utf8-bom.csv"), bom_csv())
    write(os.path.join(out, "demo-roster.csv"), demo_csv())


if __name__ == "__main__":
    main()
