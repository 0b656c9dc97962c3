#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Writes the synthetic roster samples of manifests/rosters/ (invented pupils only).

Run from anywhere: ./make-samples.py [DIR] (default: this script's folder). The output is
byte-identical from run to run (fixed names, fixed zip timestamps), so the committed files
can be checked against it: tests/unit/test-roster.c reads them, manifests/README.md says
what each holds.

./make-samples.py --quirks DIR writes, into DIR, the exports as collèges really send them
(one file per quirk: SIECLE's "Inactifs", a leave date to come, an editor's UTF-8 under an
ISO-8859-15 prolog, zips with macOS files, a nomenclature or two exports, a truncated zip,
a hostile ELEVE, two STRUCTURES_ELEVE blocks; Pronote's, ONDE's, Pix's and Excel's CSVs).
The build writes them (tests/unit/meson.build) for the tests; none is committed.
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
    ("4004", "Brunet", "Noël", "30/01/2013", "070123459AE", "5A", [], "20/11/2026"),
    ("4005", "Da Silva", "Inès", "09/09/2012", "070123460AF", "4A", ["4_ESP"], None),
    ("4006", "Lefort", "Gaëlle", "17/05/2011", "070123461AG", "3A", [], None),
    ("4007", "Šebesta", "Zoé", "01/12/2012", "070123462AH", None, [], None),
    ("4008", "Ferrand", "François", "25/06/2011", "070123463AJ", "3A", ["3_LATIN"], None),
]
NOM_ONLY = {"4006"}    # written as <NOM>, as exports before 2015 were

SIECLE_UAI = "0750001A"


def siecle_xml(pupils, uai, year, with_uai=True, exported="01/09/2026 08:00:00", encoding="iso-8859-15",
               prolog="ISO-8859-15", extra_structures=()):
    out = [f'<?xml version="1.0" encoding="{prolog}"?>',
           '<BEE_ELEVES VERSION="3.1">',
           '  <PARAMETRES>']
    if with_uai:
        out.append(f'    <UAJ>{uai}</UAJ>')
    out += [f'    <ANNEE_SCOLAIRE>{year}</ANNEE_SCOLAIRE>',
            f'    <DATE_EXPORT>{exported[:10]}</DATE_EXPORT>',
            f'    <HORODATAGE>{exported}</HORODATAGE>',
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
    # A second STRUCTURES_ELEVE block for a pupil (an anomaly, GEPI says).
    for (eid, cls) in extra_structures:
        out += [f'      <STRUCTURES_ELEVE ELEVE_ID="{eid}">',
                '        <STRUCTURE>',
                f'          <CODE_STRUCTURE>{cls}</CODE_STRUCTURE>',
                '          <TYPE_STRUCTURE>D</TYPE_STRUCTURE>',
                '        </STRUCTURE>',
                '      </STRUCTURES_ELEVE>']
    out += ['    </STRUCTURES>',
            '  </DONNEES>',
            '</BEE_ELEVES>', '']
    return "\r\n".join(out).encode(encoding)


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
            left = "20/11/2026" if n == 41 else ""
            lines.append(f"{prefix}{i + 1:03d};{uai};{classes[i % 3]};{fam};{first};{left}")
            n += 1
    return ("\n".join(lines) + "\n").encode("utf-8")

# ---- The quirks of real exports (--quirks DIR): one file per case of issue 22 ----

def zip_of(members):
    """A zip of (name, bytes) members, with fixed timestamps: the same bytes every run."""
    import io
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for (name, data) in members:
            info = zipfile.ZipInfo(name, date_time=(2026, 9, 1, 8, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
    return buf.getvalue()


# What macOS's Archive Utility adds next to each file: an AppleDouble header (magic
# 0x00051607, version 2, "Mac OS X" filler, no entries), not XML.
APPLEDOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00" + b"Mac OS X        " + b"\x00\x00"

NOMENCLATURE = ('<?xml version="1.0" encoding="ISO-8859-15"?>\r\n<BEE_NOMENCLATURES VERSION="3.1">\r\n'
                '  <PARAMETRES><UAJ>0750001A</UAJ><ANNEE_SCOLAIRE>2026</ANNEE_SCOLAIRE></PARAMETRES>\r\n'
                '  <DONNEES><MEFS/></DONNEES>\r\n</BEE_NOMENCLATURES>\r\n').encode("iso-8859-15")


def with_class(pupils, changes):
    """SIECLE_PUPILS with some pupils' (class, left) changed: {id: (class, left)}."""
    out = []
    for p in pupils:
        if p[0] in changes:
            cls, left = changes[p[0]]
            p = p[:5] + (cls, p[6], left)
        out.append(p)
    return out


def hostile_eleve(children):
    """One ELEVE with many children, as the issue's 280 KB zip: read in bounded memory."""
    head = ('<?xml version="1.0" encoding="ISO-8859-15"?>\n<BEE_ELEVES VERSION="3.1"><PARAMETRES>'
            '<UAJ>0750001A</UAJ><ANNEE_SCOLAIRE>2026</ANNEE_SCOLAIRE></PARAMETRES><DONNEES><ELEVES>\n'
            '<ELEVE ELEVE_ID="1"><NOM_DE_FAMILLE>HOSTILE</NOM_DE_FAMILLE><PRENOM>Un</PRENOM>')
    tail = ('</ELEVE>\n</ELEVES><STRUCTURES><STRUCTURES_ELEVE ELEVE_ID="1"><STRUCTURE><CODE_STRUCTURE>6A'
            '</CODE_STRUCTURE><TYPE_STRUCTURE>D</TYPE_STRUCTURE></STRUCTURE></STRUCTURES_ELEVE></STRUCTURES>'
            '</DONNEES></BEE_ELEVES>\n')
    return (head + "<ADRESSE/>" * children + tail).encode("ascii")


def csv_bytes(rows, sep=";", encoding="utf-8", bom=False, eol="\r\n"):
    text = eol.join(sep.join(r) for r in rows) + eol
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding)


def quirks():
    """{file name: bytes} of every quirk."""
    q = {}
    # 1. SIECLE's "Inactifs" pseudo-division: 4002 in it, 4005 in it next to a group.
    q["siecle-inactifs.xml"] = siecle_xml(with_class(SIECLE_PUPILS, {"4002": ("Inactifs", None),
                                                                      "4005": ("Inactifs", None)}),
                                          SIECLE_UAI, "2026")
    # 2. Leave dates: one past (4004), one to come (4008 leaves on 31/08/2099).
    q["siecle-date-sortie.xml"] = siecle_xml(with_class(SIECLE_PUPILS, {"4008": ("3A", "31/08/2099")}),
                                             SIECLE_UAI, "2026")
    # 3. Stale exports of the sample's school: last year's, and this year's but older.
    q["siecle-2025.xml"] = siecle_xml(SIECLE_PUPILS, SIECLE_UAI, "2025", exported="15/06/2026 10:00:00")
    q["siecle-older.xml"] = siecle_xml(SIECLE_PUPILS, SIECLE_UAI, "2026", exported="25/08/2026 09:30:00")
    # 4. Saved again as UTF-8 by an editor, the ISO-8859-15 prolog kept; a class "5°2".
    q["siecle-utf8-latin9-prolog.xml"] = siecle_xml(
        with_class(SIECLE_PUPILS, {"4004": ("5°2", None)}) + [
            ("4009", "Lefèvre", "Anaëlle", "02/03/2013", "070123464AK", "5°2", [], None)],
        SIECLE_UAI, "2026", encoding="utf-8")
    # 5. Zips: macOS's AppleDouble and .DS_Store first; the nomenclature first; two pupils
    # exports; the sample cut short (a download that stopped).
    xml = siecle_xml(SIECLE_PUPILS, SIECLE_UAI, "2026")
    q["siecle-macos.zip"] = zip_of([("__MACOSX/._ElevesSansAdresses.xml", APPLEDOUBLE),
                                    ("._ElevesSansAdresses.xml", APPLEDOUBLE),
                                    (".DS_Store", b"\x00\x00\x00\x01Bud1"),
                                    ("ElevesSansAdresses.xml", xml)])
    q["siecle-with-nomenclature.zip"] = zip_of([("Nomenclature.xml", NOMENCLATURE),
                                                ("ElevesSansAdresses.xml", xml)])
    q["siecle-two-exports.zip"] = zip_of([("ElevesSansAdresses.xml", xml),
                                          ("ElevesAvecAdresses.xml", xml)])
    whole = zip_of([("ElevesSansAdresses.xml", xml)])
    q["siecle-truncated.zip"] = whole[:len(whole) * 92 // 100]
    # 6. One ELEVE with 300,000 children (2.8 MB of XML, a few KB zipped).
    q["siecle-hostile-eleve.zip"] = zip_of([("ElevesSansAdresses.xml", hostile_eleve(300000))])
    # 7. Two STRUCTURES_ELEVE blocks: 4003 twice in 6B, 4005 in 4A then in 4B.
    q["siecle-two-structures.xml"] = siecle_xml(SIECLE_PUPILS, SIECLE_UAI, "2026",
                                                extra_structures=[("4003", "6B"), ("4005", "4B")])
    # 8, 9. Pronote: "Élèves" holds "NOM Prénom", "Né(e) le", a second header row (the
    # options' sub-columns), and the separator-only rows a spreadsheet leaves at the end.
    q["pronote.csv"] = csv_bytes([
        ["Élèves", "Né(e) le", "Sexe", "Classe", "Options", ""],
        ["", "", "", "", "Option 1", "Option 2"],
        ["MARTIN-LEFÈVRE Jean-Baptiste", "14/02/2014", "G", "6A", "LATIN", ""],
        ["DA SILVA Inès", "09/09/2012", "F", "4A", "ESP", "CHORALE"],
        ["N'DIAYE Awa Marie", "21/12/2013", "F", "5A", "", ""],
        ["LEFORT Gaëlle", "17/05/2011", "F", "3A", "", ""],
        ["", "", "", "", "", ""],
        ["", "", "", "", "", ""],
    ], bom=True)
    # ONDE (the primary schools' register): no id column, "Libellé classe" and
    # "Identifiant classe", ISO-8859-1, birth dates YYYY-MM-DD.
    q["onde.csv"] = csv_bytes([
        ["Nom élève", "Prénom élève", "INE", "Cycle", "Niveau", "Libellé classe", "Date naissance",
         "Identifiant classe"],
        ["BRUNET", "Noël", "070123459AE", "CYCLE III", "CM2", "CM2 Mme Roux", "2015-01-30", "31254"],
        ["NGUYEN", "Éloïse", "070123458AD", "CYCLE III", "CM1", "CM1-CM2 M. Faure", "2016-07-22", "31255"],
        ["FERRAND", "François", "070123463AJ", "CYCLE III", "CM2", "CM2 Mme Roux", "2015-06-25", "31254"],
    ], encoding="iso-8859-1")
    # Pix's template for schools without SIECLE: "Identifiant unique*", "Date de naissance
    # (jj/mm/aaaa)*", "Division*".
    q["pix-template.csv"] = csv_bytes([
        ["Identifiant unique*", "Premier prénom*", "Deuxième prénom", "Troisième prénom", "Nom de famille*",
         "Nom d’usage", "Date de naissance (jj/mm/aaaa)*", "Code commune naissance**",
         "Libellé commune naissance**", "Code département naissance*", "Code pays naissance*", "Statut*",
         "Code MEF*", "Division*"],
        ["123F", "Chloé", "", "", "Cœurderoy", "", "03/11/2013", "75056", "", "75", "99100", "ST",
         "10010012110", "6A"],
        ["456G", "Zoé", "Marie", "", "Šebesta", "", "01/12/2012", "75056", "", "75", "99100", "ST",
         "10010012110", "5B"],
    ], bom=True)
    # 10. Excel's "CSV (séparateur : point-virgule)": Windows-1252, with ’ « » Œ œ € (bytes
    # 0x80-0x9F, which ISO-8859-1 lacks).
    q["excel-cp1252.csv"] = csv_bytes([
        ["UAI", "Nom", "Prénom", "Classe", "Commentaire"],
        ["0750001A", "O’Neil", "Seán", "6A", "« bon élève »"],
        ["0750001A", "Œillet", "Cœline", "6A", "caution 20 €"],
        ["0750001A", "D’Arc", "Jeanne", "5A", "…"],
    ], encoding="cp1252")
    # 11. The sample's school again, from an ENT: logins as ids, the same children.
    rows = [["Identifiant", "UAI", "Nom", "Prénom", "Classe"]]
    for (eid, fam, first, birth, ine, cls, groups, left) in SIECLE_PUPILS:
        if left:
            continue
        login = (first[0] + "." + fam).lower().replace(" ", "")
        rows.append([login, SIECLE_UAI, fam.upper(), first, cls or ""])
    q["ent-same-school.csv"] = csv_bytes(rows)
    return q


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--quirks":
        os.makedirs(sys.argv[2], exist_ok=True)
        for (name, data) in quirks().items():
            write(os.path.join(sys.argv[2], name), data)
        return
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
