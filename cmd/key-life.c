/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "journal-arg.h"
#include "key-life.h"

#define P_(ctx, s) i18n_pgettext(ctx "\004" s, s)

const char *key_status_words(const char *status) {
        const struct { const char *value, *words; } t[] = {
                /* TRANSLATORS: a verified key's outcome, as the journal records it (of a key). */
                { "intact", P_("key outcome", "intact") }, { "modified", P_("key outcome", "modified") },
                { "swapped", P_("key outcome", "swapped") },
                /* TRANSLATORS: the status of a key in the journal (of a key). */
                { "stock", P_("key status", "stock") }, { "issued", P_("key status", "issued") },
                { "lost", P_("key status", "lost") }, { "stolen", P_("key status", "stolen") },
                { "replaced", P_("key status", "replaced") }, { "returned", P_("key status", "returned") },
                { "failed", P_("key status", "failed") }, { "retired", P_("key status", "retired") },
        };

        for (size_t i = 0; status && i < ELEMENTSOF(t); i++)
                if (streq(status, t[i].value))
                        return t[i].words;
        return status;
}

const char *verify_status_words(enum verify_status st) {
        switch (st) {
        /* TRANSLATORS: verify's status column (9 characters wide): a file of the release absent from the key. */
        case VERIFY_MISSING: return _("missing");
        /* TRANSLATORS: verify's status column: a file of the release changed on the key. */
        case VERIFY_MODIFIED: return _("modified");
        /* TRANSLATORS: verify's status column: a file added by the pupil (allowed). */
        case VERIFY_EXTRA: return _("extra");
        /* TRANSLATORS: verify's status column: a file added inside a sealed directory (not allowed). */
        case VERIFY_SEALED: return _("sealed");
        /* TRANSLATORS: verify's status column: read-only, hidden or system attribute changed. */
        case VERIFY_ATTRIBUTES: return _("attributes");
        }
        return verify_status_to_string(st);
}

void key_life_say_verdict(const struct keylife_verdict *d) {
        const struct journal_key_info *k = d->key;
        const char *outcome = key_status_words(keylife_outcome_to_string(d->outcome));

        if (d->outcome == KEYLIFE_SWAPPED)
                /* TRANSLATORS: why a key looks swapped (another pupil's, or two keys in one). */
                log_warn(_("SWAPPED: %s"), LIB_WORDS(&d->swap));
        if (k->pupil_id && streq(k->status, "issued"))
                /* TRANSLATORS: the outcome ("intact"), the key's uid, its pupil's school and id. */
                log_info(_("journal: %s recorded for key %s of %s/%s"), outcome, k->uid, k->school, k->pupil_id);
        else
                /* TRANSLATORS: the outcome ("intact"), the key's uid, its status ("stock"). */
                log_info(_("journal: %s recorded for key %s (%s)"), outcome, k->uid, key_status_words(k->status));
}

int key_life_record_verify(const char *journal_arg, const char *operator, const struct verify_result *v,
                           const char *usb_serial, bool *ret_swapped) {
        _cleanup_(journal_closep) struct journal *j = NULL;
        _cleanup_(keylife_verdict_done) struct keylife_verdict d = {};
        struct cart_error err = {};
        int code, r;

        code = journal_arg_open(journal_arg, false, &j);
        if (code != EXIT_OK)
                return code;
        r = keylife_record_verify(j, keylife_operator(operator), v, usb_serial, &d, &err);
        if (r == -ENOENT) {
                /* TRANSLATORS: why the key is not in the journal. */
                log_error(r, _("%s: nothing recorded"), ERROR_TEXT(&err, r));
                return exit_code_for(r);
        }
        if (r < 0)
                return journal_fail(r, &err);
        key_life_say_verdict(&d);
        *ret_swapped = d.outcome == KEYLIFE_SWAPPED;
        return EXIT_OK;
}
