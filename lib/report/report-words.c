/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The HTML documents' words in English: the msgids cmd/ translates (see report.h). */
#include <string.h>

#include "report/report.h"

/* Mark a message for xgettext (po/POTFILES lists this file): lib/ never translates. P_ gives
 * a context, kept before a \004 as gettext does (report_word() drops it). */
#define N_(s) s
#define P_(ctx, s) ctx "\004" s

const char *const report_words_english[_REPORT_WORD_MAX] = {
        /* TRANSLATORS: the language of the HTML report and receipts sheet (its lang attribute):
         * your language's code, "fr". */
        [REPORT_WORD_LANG] = N_("en"),
        /* TRANSLATORS: the HTML report: the page's title, then the school and class. */
        [REPORT_WORD_TITLE] = N_("cartable keys"),
        [REPORT_WORD_HEADING] = N_("Pupils' USB keys"),
        /* TRANSLATORS: the report's date follows (2026-11-29T10:00:00Z), then a full stop. */
        [REPORT_WORD_REPORT_OF] = N_("Report of"),
        /* TRANSLATORS: the report's totals: each label is followed by a number, and the labels by
         * the separator below. */
        [REPORT_WORD_N_PUPILS] = N_("Pupils:"),
        [REPORT_WORD_N_ISSUED] = N_("keys issued:"),
        [REPORT_WORD_N_WITHOUT_KEY] = N_("without a key:"),
        [REPORT_WORD_N_LOST] = N_("lost:"),
        [REPORT_WORD_N_STOLEN] = N_("stolen:"),
        [REPORT_WORD_N_REPLACED] = N_("replaced:"),
        [REPORT_WORD_N_RETURNED] = N_("returned:"),
        /* TRANSLATORS: between the report's totals ("Pupils: 30; keys issued: 28"). */
        [REPORT_WORD_SEPARATOR] = N_("; "),
        /* TRANSLATORS: the charts of the HTML report. */
        [REPORT_WORD_CHART_PER_CLASS] = N_("Keys issued / roster size, per class"),
        [REPORT_WORD_CHART_PER_SCHOOL] = N_("Keys issued / roster size, per school"),
        [REPORT_WORD_CHART_ROSTER_LEGEND] = N_("dark blue: keys issued; light: roster size"),
        [REPORT_WORD_CHART_MONTHS] = N_("Keys lost or stolen, and replaced, per month"),
        [REPORT_WORD_CHART_LOST] = N_("lost or stolen"),
        [REPORT_WORD_CHART_REPLACED] = N_("keys replaced"),
        [REPORT_WORD_CHART_RELEASES] = N_("Releases in the field (keys issued)"),
        /* TRANSLATORS: a chart with nothing to show. */
        [REPORT_WORD_CHART_NONE] = N_("none"),
        /* TRANSLATORS: the HTML report's sections and column headers. */
        [REPORT_WORD_H_CLASSES] = N_("Per school and class"),
        [REPORT_WORD_H_RELEASES] = N_("Releases in the field"),
        [REPORT_WORD_H_KEYS] = N_("Keys"),
        [REPORT_WORD_COL_SCHOOL] = N_("School"),
        [REPORT_WORD_COL_CLASS] = N_("Class"),
        [REPORT_WORD_COL_PUPILS] = N_("Pupils"),
        [REPORT_WORD_COL_ISSUED] = N_("Keys issued"),
        [REPORT_WORD_COL_WITHOUT_KEY] = N_("Without a key"),
        [REPORT_WORD_COL_LOST] = N_("Lost"),
        [REPORT_WORD_COL_STOLEN] = N_("Stolen"),
        [REPORT_WORD_COL_REPLACED] = N_("Replaced"),
        [REPORT_WORD_COL_RETURNED] = N_("Returned"),
        /* TRANSLATORS: pupils who have left the school. */
        [REPORT_WORD_COL_LEFT] = N_("Left"),
        [REPORT_WORD_TOTAL] = N_("Total"),
        [REPORT_WORD_COL_RELEASE] = N_("Release"),
        [REPORT_WORD_COL_SERIAL] = N_("Serial"),
        [REPORT_WORD_COL_FAMILY_NAME] = N_("Family name"),
        [REPORT_WORD_COL_FIRST_NAME] = N_("First name"),
        [REPORT_WORD_COL_KEY] = N_("Key"),
        [REPORT_WORD_COL_STATUS] = N_("Status"),
        [REPORT_WORD_COL_VERIFIED] = N_("Last verification"),
        /* TRANSLATORS: the keys table: the release a key holds (its last flash, update or repair). */
        [REPORT_WORD_COL_RELEASE_HELD] = N_("Release held"),
        /* TRANSLATORS: a key's status in the report (of a key). */
        [REPORT_WORD_STATUS_STOCK] = P_("key status", "stock"),
        [REPORT_WORD_STATUS_ISSUED] = P_("key status", "issued"),
        [REPORT_WORD_STATUS_LOST] = P_("key status", "lost"),
        [REPORT_WORD_STATUS_STOLEN] = P_("key status", "stolen"),
        [REPORT_WORD_STATUS_REPLACED] = P_("key status", "replaced"),
        [REPORT_WORD_STATUS_RETURNED] = P_("key status", "returned"),
        [REPORT_WORD_STATUS_FAILED] = P_("key status", "failed"),
        [REPORT_WORD_STATUS_RETIRED] = P_("key status", "retired"),
        /* TRANSLATORS: a key's last verification in the report (of a key). */
        [REPORT_WORD_OUTCOME_INTACT] = P_("key outcome", "intact"),
        [REPORT_WORD_OUTCOME_MODIFIED] = P_("key outcome", "modified"),
        [REPORT_WORD_OUTCOME_SWAPPED] = P_("key outcome", "swapped"),
        /* TRANSLATORS: the receipts sheet: the pupils of a class sign for their key. */
        [REPORT_WORD_RECEIPTS_TITLE] = N_("Receipts sheet"),
        [REPORT_WORD_RECEIPTS_HEADING] = N_("Receipts sheet: pupils' USB keys"),
        /* TRANSLATORS: followed by the school's UAI, then a full stop. */
        [REPORT_WORD_RECEIPTS_SCHOOL] = N_("School:"),
        [REPORT_WORD_RECEIPTS_CLASS] = N_("Class:"),
        [REPORT_WORD_RECEIPTS_DATE] = N_("Date:"),
        [REPORT_WORD_RECEIPTS_ATTEST] = N_("By signing, the pupil confirms receiving the key whose number is on their line."),
        [REPORT_WORD_COL_KEY_NUMBER] = N_("Key number"),
        [REPORT_WORD_COL_SIGNATURE] = N_("Signature"),
        [REPORT_WORD_RECEIPTS_SIGNER] = N_("Name and signature of the person who handed out the keys:"),
        /* TRANSLATORS: the report's list of keys, next to a key's status: its pupil was issued
         * keys on two stations while they were apart (journal merge), to settle. */
        [REPORT_WORD_CONFLICT] = N_("the pupil holds another issued key"),
        /* TRANSLATORS: where a report comes from, on each page: the station (computer) that
         * made it, who ran it, the journal, and each station's chain in it ("atelier-1: 12
         * events, last hash 3f2a..."). */
        [REPORT_WORD_P_STATION] = N_("Station:"),
        [REPORT_WORD_P_OPERATOR] = N_("Operator:"),
        [REPORT_WORD_P_JOURNAL] = N_("Journal:"),
        [REPORT_WORD_P_EVENTS] = N_("events"),
        [REPORT_WORD_P_LAST_HASH] = N_("last hash"),
        [REPORT_WORD_P_INTACT] = N_("journal intact"),
        [REPORT_WORD_P_BROKEN] = N_("JOURNAL BROKEN: run cartable journal verify"),
        /* TRANSLATORS: a printed page's number: "page 2 / 5". */
        [REPORT_WORD_P_PAGE] = N_("page"),
        [REPORT_WORD_H_WITHOUT_KEY] = N_("Pupils without a key"),
        /* TRANSLATORS: the list of pupils without a key, when it is empty. */
        [REPORT_WORD_NOBODY] = N_("nobody"),
        /* TRANSLATORS: followed by a number, like the report's totals. */
        [REPORT_WORD_N_NEVER_VERIFIED] = N_("issued keys never verified:"),
        /* TRANSLATORS: the month chart's vertical axis: a number of keys. */
        [REPORT_WORD_CHART_AXIS_KEYS] = N_("keys"),
        /* TRANSLATORS: the receipts sheet: the date a key was handed over. */
        [REPORT_WORD_COL_ISSUED_ON] = N_("Issued on"),
        /* TRANSLATORS: the receipts sheet, printed for the keys of a day or a batch: followed
         * by a date, or by a batch run's identifier. */
        [REPORT_WORD_RECEIPTS_SINCE] = N_("Keys issued since"),
        [REPORT_WORD_RECEIPTS_RUN] = N_("Batch run:"),
        /* TRANSLATORS: the title of a sheet of key labels (stickers). */
        [REPORT_WORD_LABELS_TITLE] = N_("Key labels"),
};

const char *report_key_id(const char *volume_id, const char *serial) {
        if (volume_id && *volume_id)
                return volume_id;
        return serial ? serial : "";
}

const char *report_word(const struct report_options *o, enum report_word w) {
        const char *s, *ctx_end;

        if ((unsigned) w >= _REPORT_WORD_MAX)
                return "";
        if (o->words && o->words[w])
                return o->words[w];
        s = report_words_english[w];
        ctx_end = strchr(s, '\004');
        return ctx_end ? ctx_end + 1 : s;
}
