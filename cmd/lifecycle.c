/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cartable lost | stolen | identify: a key's life after it was handed out. */
#include <inttypes.h>
#include <strings.h>
#include <time.h>

#include "commands.h"
#include "reason.h"
#include "fat/fat.h"
#include "flash/verify.h"
#include "journal-arg.h"
#include "key-io.h"
#include "lifecycle.h"
#include "journal/journal-purge.h"
#include "trust.h"

#define P_(ctx, s) i18n_pgettext(ctx "\004" s, s)

const char *lifecycle_operator(const char *arg) {
        const char *s = arg;

        if (!s || !*s)
                s = getenv("SUDO_USER");
        if (!s || !*s)
                s = getenv("USER");
        return s && *s ? s : "root";
}

/* Why a key looks swapped: its volume and its record's serial name two keys, or the
 * journal's holder of the volume is not the owner its record names. */
struct swap {
        enum { SWAP_NONE, SWAP_TWO_KEYS, SWAP_OTHER_OWNER, SWAP_USB_OTHER_KEY, SWAP_USB_SERIAL } kind;
        char vid[16];
        char a[256], b[256];    /* two keys' uids; or the holder's school and pupil id; or the
                                 * volume's key's uid and the serial the journal knows it by */
        char c[256];            /* SWAP_USB_SERIAL: the serial the device reports */
};

/* The swap in words: for people (translated), or for the journal (English, is_people false). */
static const char *swap_words(const struct swap *w, bool is_people, char *buf, size_t n) {
        buf[0] = 0;
        if (w->kind == SWAP_TWO_KEYS)
                /* TRANSLATORS: a volume ID, then the uids of the two keys it and the key record name. */
                snprintf(buf, n, i18n_say(is_people, N_("its volume %s is key %s's in the journal but its key "
                                                          "record names key %s")),
                         w->vid, w->a, w->b);
        else if (w->kind == SWAP_OTHER_OWNER)
                /* TRANSLATORS: a volume ID, then the school (UAI) and id of the pupil the journal gives it to. */
                snprintf(buf, n, i18n_say(is_people, N_("the journal gives volume %s to %s/%s, not to the owner its "
                                                          "key record names")),
                         w->vid, w->a, w->b);
        else if (w->kind == SWAP_USB_OTHER_KEY)
                /* TRANSLATORS: a volume ID, then the uids of the keys it and the device's USB serial name. */
                snprintf(buf, n, i18n_say(is_people, N_("its volume %s is key %s's in the journal but its USB serial "
                                                          "is key %s's")),
                         w->vid, w->a, w->b);
        else if (w->kind == SWAP_USB_SERIAL)
                /* TRANSLATORS: a volume ID, the key's uid, the USB serial the journal knows, the device's. */
                snprintf(buf, n, i18n_say(is_people, N_("its volume %s is key %s's in the journal, whose USB serial "
                                                          "is %s, not %s")),
                         w->vid, w->a, w->b, w->c);
        return buf;
}

static int find_key(struct journal *j, uint32_t volume_id, const struct key_record *rec, const char *usb_serial,
                    struct journal_key_info **ret, struct swap *swap, struct cart_error *err) {
        _cleanup_(journal_key_info_freep) struct journal_key_info *by_vol = NULL, *by_serial = NULL, *by_usb = NULL;
        char vid[16];
        int r;

        snprintf(vid, sizeof(vid), "%08" PRIX32, volume_id);
        r = journal_key_find(j, vid, &by_vol, err);
        if (r < 0 && r != -ENOENT)
                return r;
        if (rec && rec->key_serial[0]) {
                r = journal_key_find(j, rec->key_serial, &by_serial, err);
                if (r < 0 && r != -ENOENT)
                        return r;
        }
        if (usb_serial && usb_serial[0]) {
                r = journal_key_find(j, usb_serial, &by_usb, err);
                if (r < 0 && r != -ENOENT)
                        return r;
        }
        if (!by_vol && !by_serial && !by_usb) {
                if (usb_serial && usb_serial[0])
                        return cart_error_set(err, -ENOENT, _("volume %s and USB serial %s are not in the journal"),
                                              vid, usb_serial);
                if (rec && rec->key_serial[0])
                        return cart_error_set(err, -ENOENT, _("volume %s and key serial %s are not in the journal"),
                                              vid, rec->key_serial);
                return cart_error_set(err, -ENOENT, _("volume %s is not in the journal"), vid);
        }
        *swap = (struct swap) { .kind = SWAP_NONE };
        snprintf(swap->vid, sizeof(swap->vid), "%s", vid);
        if (by_vol && by_serial && !streq(by_vol->uid, by_serial->uid)) {
                swap->kind = SWAP_TWO_KEYS;
                snprintf(swap->a, sizeof(swap->a), "%s", by_vol->uid);
                snprintf(swap->b, sizeof(swap->b), "%s", by_serial->uid);
        } else if (by_vol && by_vol->family_name && rec && rec->has_owner &&
                   (strcasecmp(rec->owner_last_name, by_vol->family_name) != 0 ||
                    strcasecmp(rec->owner_first_name, by_vol->first_name) != 0)) {
                swap->kind = SWAP_OTHER_OWNER;
                snprintf(swap->a, sizeof(swap->a), "%s", by_vol->school);
                snprintf(swap->b, sizeof(swap->b), "%s", by_vol->pupil_id);
        } else if (by_vol && by_usb && !streq(by_vol->uid, by_usb->uid)) {
                /* The serial the device itself reports (a block device) names another key. */
                swap->kind = SWAP_USB_OTHER_KEY;
                snprintf(swap->a, sizeof(swap->a), "%s", by_vol->uid);
                snprintf(swap->b, sizeof(swap->b), "%s", by_usb->uid);
        } else if (by_vol && !by_usb && by_vol->serial && usb_serial && usb_serial[0] &&
                   !streq(by_vol->serial, usb_serial)) {
                swap->kind = SWAP_USB_SERIAL;
                snprintf(swap->a, sizeof(swap->a), "%s", by_vol->uid);
                snprintf(swap->b, sizeof(swap->b), "%s", by_vol->serial);
                snprintf(swap->c, sizeof(swap->c), "%s", usb_serial);
        }
        if (by_vol)
                *ret = TAKE_PTR(by_vol);
        else if (by_serial)
                *ret = TAKE_PTR(by_serial);
        else
                *ret = TAKE_PTR(by_usb);
        return 0;
}

int lifecycle_find_key(struct journal *j, uint32_t volume_id, const struct key_record *rec,
                       const char *usb_serial, struct journal_key_info **ret, char *swapped, size_t swapped_len,
                       bool for_people, struct cart_error *err) {
        struct swap w;
        int r;

        if (swapped)
                swapped[0] = 0;
        r = find_key(j, volume_id, rec, usb_serial, ret, &w, err);
        if (r >= 0 && swapped)
                swap_words(&w, for_people, swapped, swapped_len);
        return r;
}

enum { OPT_JOURNAL = 0x100, OPT_PUPIL, OPT_KEY, OPT_OPERATOR };

static const char *verify_outcome(const struct verify_result *v, bool swapped) {
        if (swapped)
                return "swapped";
        return verify_result_is_intact(v) ? "intact" : "modified";
}

/* A key's status in the journal (stock, issued, lost...), or the outcome of its last
 * verification (intact, modified, swapped), for people; an unknown value as it is. */
static const char *status_words(const char *status) {
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

static int record_verify(struct journal *j, const char *operator, const struct verify_result *v,
                         const char *usb_serial, bool *ret_swapped, char **ret_uid) {
        _cleanup_(journal_key_info_freep) struct journal_key_info *k = NULL;
        char swapped[512], vid[16], msg[600] = "", words[512];
        struct cart_error err = {};
        struct journal_verification jv;
        struct swap swap;
        int r;

        r = find_key(j, v->volume_id, v->is_key_record_valid ? &v->key_record : NULL, usb_serial, &k, &swap, &err);
        if (r < 0) {
                /* TRANSLATORS: why the key is not in the journal. */
                log_error(r, _("%s: nothing recorded"), ERROR_TEXT(&err, r));
                return journal_exit_code(r);
        }
        swap_words(&swap, false, swapped, sizeof(swapped));
        if (!verify_result_is_intact(v))
                snprintf(msg, sizeof(msg), "%zu missing, %zu modified, %zu sealed, %zu attributes%s%s", v->n_missing,
                         v->n_modified, v->n_sealed, v->n_attributes, v->table_problem[0] ? "; table: " : "",
                         v->table_problem);
        if (swapped[0])
                snprintf(msg, sizeof(msg), "%s", swapped);
        snprintf(vid, sizeof(vid), "%08" PRIX32, v->volume_id);
        jv = (struct journal_verification) { .key_uid = k->uid, .operator = operator,
                .outcome = verify_outcome(v, swapped[0]), .message = msg[0] ? msg : NULL,
                .release_name = v->release_name, .release_version = v->release_version,
                .release_serial = (int64_t) v->release_serial, .volume_id = vid };
        r = journal_record_verification(j, &jv, &err);
        if (r < 0)
                return journal_fail(r, &err);
        /* On stderr: stdout may be verify's JSON. */
        if (swapped[0])
                /* TRANSLATORS: why a key looks swapped (another pupil's, or two keys in one). */
                log_warn(_("SWAPPED: %s"), swap_words(&swap, true, words, sizeof(words)));
        if (k->pupil_id && streq(k->status, "issued"))
                /* TRANSLATORS: the outcome ("intact"), the key's uid, its pupil's school and id. */
                log_info(_("journal: %s recorded for key %s of %s/%s"), status_words(verify_outcome(v, swapped[0])),
                         k->uid, k->school, k->pupil_id);
        else
                /* TRANSLATORS: the outcome ("intact"), the key's uid, its status ("stock"). */
                log_info(_("journal: %s recorded for key %s (%s)"), status_words(verify_outcome(v, swapped[0])),
                         k->uid, status_words(k->status));
        *ret_swapped = swapped[0];
        if (ret_uid) {
                *ret_uid = strdup(k->uid);
                if (!*ret_uid)
                        return log_fail(-ENOMEM, _("out of memory"));
        }
        return EXIT_OK;
}

int lifecycle_record_verify(const char *journal_arg, const char *operator, const struct verify_result *v,
                            const char *usb_serial, bool *ret_swapped, char **ret_uid) {
        _cleanup_(journal_closep) struct journal *j = NULL;
        int code;

        code = journal_arg_open(journal_arg, false, &j);
        if (code != EXIT_OK)
                return code;
        return record_verify(j, lifecycle_operator(operator), v, usb_serial, ret_swapped, ret_uid);
}

/* ---- lost, stolen ---- */


static int run_mark(const struct command *cmd, int argc, char **argv) {
        static const struct option options[] = {
                { "journal", required_argument, NULL, OPT_JOURNAL },
                { "pupil", required_argument, NULL, OPT_PUPIL },
                { "key", required_argument, NULL, OPT_KEY },
                { "operator", required_argument, NULL, OPT_OPERATOR },
                {}
        };
        _cleanup_(journal_closep) struct journal *j = NULL;
        _cleanup_(journal_key_info_freep) struct journal_key_info *k = NULL;
        _cleanup_free_ char *uid = NULL;
        struct journal_mark m = { .kind = cmd->name };
        const char *journal = NULL, *op = NULL;
        struct cart_error err = {};
        int c, code, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case OPT_JOURNAL: journal = optarg; break;
                case OPT_PUPIL: m.pupil = optarg; break;
                case OPT_KEY: m.key = optarg; break;
                case OPT_OPERATOR: op = optarg; break;
                default: return usage_bad_option(cmd, argv);
                }
        if (optind != argc)
                /* TRANSLATORS: the command ("lost"), the argument. */
                return usage_error(cmd, _("%s: unexpected argument '%s'"), cmd->name, argv[optind]);
        if (!m.pupil == !m.key)
                /* TRANSLATORS: the command ("lost", "stolen"). */
                return usage_error(cmd, _("%s needs --pupil ID or --key SERIAL, one of them"), cmd->name);
        m.operator = lifecycle_operator(op);
        code = journal_arg_open(journal, false, &j);
        if (code != EXIT_OK)
                return code;
        r = journal_key_mark(j, &m, &uid, &err);
        if (r < 0)
                return journal_fail(r, &err);
        r = journal_key_find(j, uid, &k, &err);
        if (r < 0)
                return journal_fail(r, &err);
        _cleanup_free_ char *family = safe_text(k->family_name), *first = safe_text(k->first_name);
        const char *serial = k->serial ? k->serial : k->uid, *class_name = k->class_name ? k->class_name : "";
        if (streq(cmd->name, "lost"))
                /* TRANSLATORS: the key's serial, its journal uid, the pupil's school and id, family
                 * name, first name and class. */
                printf(_("lost %s: key %s of %s/%s (%s %s, %s); the pupil may be given a new key (cartable replace)\n"),
                       serial, k->uid, k->school, k->pupil_id, family ? family : "", first ? first : "", class_name);
        else
                printf(_("stolen %s: key %s of %s/%s (%s %s, %s); the pupil may be given a new key (cartable "
                         "replace)\n"), serial, k->uid, k->school, k->pupil_id, family ? family : "",
                       first ? first : "", class_name);
        return EXIT_OK;
}

static int run_lost(int argc, char **argv) {
        return run_mark(&command_lost, argc, argv);
}

static int run_stolen(int argc, char **argv) {
        return run_mark(&command_stolen, argc, argv);
}

const struct command command_lost = {
        .name = "lost",
        .summary = N_("mark a pupil's key lost in the journal"),
        .help = N_("Usage: cartable lost (--pupil ID | --key SERIAL) [--journal DB] [--operator NAME]\n"
                   "Mark a pupil's issued key lost. See cartable-lifecycle(1).\n"),
        .run = run_lost,
};

const struct command command_stolen = {
        .name = "stolen",
        .summary = N_("mark a pupil's key stolen in the journal"),
        .help = N_("Usage: cartable stolen (--pupil ID | --key SERIAL) [--journal DB] [--operator NAME]\n"
                   "Mark a pupil's issued key stolen. See cartable-lifecycle(1).\n"),
        .run = run_stolen,
};

/* ---- identify ---- */

struct buf {
        char data[KEY_RECORD_MAX];
        size_t len;
};

static int buf_sink(void *userdata, const void *p, size_t len) {
        struct buf *b = userdata;
        if (len > sizeof(b->data) - b->len)
                return -EFBIG;
        memcpy(b->data + b->len, p, len);
        b->len += len;
        return 0;
}

/* A journal time (microseconds) as text in t. */
static const char *time_text(int64_t usec, char t[32]) {
        time_format(usec / 1000000, t);
        return t;
}
#define TIME_TEXT(usec) time_text((usec), (char[32]) {})

/* identify's pupil line: names and class, or what is left of them. */
static void print_pupil(const struct journal_key_info *k) {
        _cleanup_free_ char *family = safe_text(k->family_name), *first = safe_text(k->first_name);

        if (k->pupil_id && family && k->is_active)
                /* TRANSLATORS: the pupil's school (UAI) and id, family name, first name, class. */
                printf(_("pupil: %s/%s %s %s, class %s\n"), k->school, k->pupil_id, family, first ? first : "",
                       k->class_name);
        else if (k->pupil_id && family)
                printf(_("pupil: %s/%s %s %s, class %s (has left)\n"), k->school, k->pupil_id, family,
                       first ? first : "", k->class_name);
        else if (k->pupil_id && k->is_active)
                printf(_("pupil: %s/%s (personal data purged)\n"), k->school, k->pupil_id);
        else if (k->pupil_id)
                printf(_("pupil: %s/%s (personal data purged) (has left)\n"), k->school, k->pupil_id);
        else if (k->school && !streq(k->status, "stock"))
                printf(_("pupil: personal data purged (school %s)\n"), k->school);
        else
                puts(_("pupil: none (stock key)"));
}

static int run_identify(int argc, char **argv) {
        static const struct option options[] = {
                { "journal", required_argument, NULL, OPT_JOURNAL },
                {}
        };
        _cleanup_(journal_closep) struct journal *j = NULL;
        _cleanup_(journal_key_info_freep) struct journal_key_info *k = NULL;
        _cleanup_(fat_reader_freep) struct fat_reader *fr = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct key_record rec = {};
        struct fat_volume_info vi;
        struct cart_error err = {};
        const char *journal = NULL;
        uint64_t size, off, vsize;
        struct buf *b = NULL;
        bool has_record = false;
        char vid[16], swapped[512], usb[128];
        int c, code, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case OPT_JOURNAL: journal = optarg; break;
                default: return usage_bad_option(&command_identify, argv);
                }
        if (argc - optind != 1)
                return usage_error(&command_identify, _("expected TARGET"));
        code = journal_arg_open(journal, false, &j);
        if (code != EXIT_OK)
                return code;
        r = key_open_read(argv[optind], &fd, &size, &err);
        if (r < 0) {
                log_error(r, "%s", ERROR_TEXT(&err, r));
                return EXIT_NOT_CARTABLE;
        }
        r = verify_open_volume(fd_read_at, (void *) (intptr_t) fd, size, &fr, &off, &vsize, &err);
        if (r >= 0)
                r = fat_reader_info(fr, &vi);
        if (r < 0) {
                log_error(r, "%s: %s", argv[optind], ERROR_TEXT(&err, r));
                return EXIT_NOT_CARTABLE;
        }
        /* The key record may be gone or edited: it only helps when the volume ID is unknown. */
        b = calloc(1, sizeof(*b));
        if (!b)
                return log_fail(-ENOMEM, _("out of memory"));
        if (fat_reader_read_file(fr, KEY_RECORD_PATH, buf_sink, b, NULL) >= 0 &&
            key_record_parse(b->data, b->len, &rec, NULL) >= 0)
                has_record = true;
        free(b);
        /* A key's own USB serial, as flash reads it: a deleted or edited record does not hide it. */
        key_usb_serial(fd, usb, sizeof(usb));
        r = lifecycle_find_key(j, vi.volume_id, has_record ? &rec : NULL, usb, &k, swapped, sizeof(swapped), true, &err);
        if (r < 0)
                return journal_fail(r, &err);
        key_format_volume_id(vi.volume_id, vid);
        /* TRANSLATORS: identify's lines: "label: value", the labels aligned by nothing. */
        printf(_("key: %s\n"), k->uid);
        printf(_("volume: %s \"%s\"\n"), vid, esc(vi.label));
        printf(_("status: %s\n"), status_words(k->status));
        print_pupil(k);
        if (k->release_serial >= 0)
                printf(_("release: %s %s (serial %" PRId64 ")\n"), k->release_name, k->release_version,
                       k->release_serial);
        if (k->flashed_usec >= 0)
                printf(_("flashed: %s\n"), TIME_TEXT(k->flashed_usec));
        if (k->verified_usec >= 0) {
                printf(_("last verified: %s\n"), TIME_TEXT(k->verified_usec));
                printf(_("last verification: %s\n"), k->verified_outcome ? status_words(k->verified_outcome) : "");
        } else
                puts(_("last verified: never"));
        if (usb[0])
                printf(_("USB serial: %s\n"), esc(usb));
        puts(has_record ? _("key record: present")
                        : _("key record: missing or unreadable (identified by its volume ID)"));
        if (swapped[0])
                printf(_("warning: %s\n"), swapped);
        return EXIT_OK;
}

const struct command command_identify = {
        .name = "identify",
        .summary = N_("say whose a found key is, offline, from the journal"),
        .help = N_("Usage: cartable identify TARGET [--journal DB]\n"
                "\n"
                "Read a found key or image (never mounted, never written): its FAT volume ID, the\n"
                "USB serial the key reports and the one in /.cartable/key.json, and say from the\n"
                "journal whose it is (name, class, school), its status, release and last\n"
                "verification. A renamed volume or a deleted key record does not hide it.\n"
                "\n"
                "Exit codes: 0 found; 2 not a FAT32 key; 66 not in the journal, no journal.\n"
                "See cartable-lifecycle(1).\n"),
        .run = run_identify,
};

/* ---- return ---- */

static bool is_reason(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || *s == '-'))
                        return false;
        return true;
}

/* What return says: the key and its outcome, the release files that are not intact, then
 * the pupil's own files by name and size, never their content. */
static void print_returned(const struct journal_key_info *k, const char *reason, const struct verify_result *v,
                           bool swapped) {
        const char *serial = k->serial ? k->serial : k->uid;
        size_t n_own = 0, n;

        if (verify_result_is_intact(v))
                /* TRANSLATORS: the key's serial, the --reason word ("left"), its uid, the pupil's school
                 * and id, the outcome ("intact", "swapped"). */
                printf(_("returned %s (%s): key %s of %s/%s, %s: every release file intact\n"), serial, reason,
                       k->uid, k->school, k->pupil_id, status_words(verify_outcome(v, swapped)));
        else
                printf(_("returned %s (%s): key %s of %s/%s, %s: release files missing or changed\n"), serial, reason,
                       k->uid, k->school, k->pupil_id, status_words(verify_outcome(v, swapped)));
        for (size_t i = 0; i < v->n_entries; i++) {
                const struct verify_entry *e = &v->entries[i];
                if (e->status == VERIFY_EXTRA) {
                        n_own++;
                        continue;
                }
                printf("  %-9s %s\n", verify_status_words(e->status), esc(e->path));
        }
        n = n_own + v->n_unlisted;
        if (n_own)
                printf(ngettext("pupil's own files: %zu (give them back or erase them)\n",
                                "pupil's own files: %zu (give them back or erase them)\n", n), n);
        else
                printf(ngettext("pupil's own files: %zu\n", "pupil's own files: %zu\n", n), n);
        for (size_t i = 0; i < v->n_entries; i++) {
                const struct verify_entry *e = &v->entries[i];
                if (e->status != VERIFY_EXTRA)
                        continue;
                if (e->is_dir)
                        /* TRANSLATORS: a folder the pupil added (its path). */
                        printf(_("  dir  %s\n"), esc(e->path));
                else
                        /* TRANSLATORS: a file the pupil added: its path, its size in bytes. */
                        printf(ngettext("  file %s (%" PRIu64 " byte)\n", "  file %s (%" PRIu64 " bytes)\n",
                                        (unsigned long) e->actual_size), esc(e->path), e->actual_size);
        }
}

static int run_return(int argc, char **argv) {
        static const struct option options[] = {
                { "journal", required_argument, NULL, OPT_JOURNAL },
                { "operator", required_argument, NULL, OPT_OPERATOR },
                { "reason", required_argument, NULL, 'r' },
                TRUST_OPTION('t'),
                {}
        };
        _cleanup_(journal_closep) struct journal *j = NULL;
        _cleanup_(journal_key_info_freep) struct journal_key_info *k = NULL;
        _cleanup_(sign_trust_freep) struct sign_trust *trust = NULL;
        _cleanup_(verify_result_freep) struct verify_result *v = NULL;
        _cleanup_(trust_args_done) struct trust_args trust_args = {};
        _cleanup_free_ char *uid = NULL;
        char usb[128];
        _cleanup_close_ int fd = -EBADF;
        const char *journal = NULL, *op = NULL, *reason = "returned";
        struct cart_error err = {};
        bool swapped = false;
        uint64_t size;
        int c, code, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case OPT_JOURNAL: journal = optarg; break;
                case OPT_OPERATOR: op = optarg; break;
                case 'r': reason = optarg; break;
                case 't':
                        if (trust_args_add(&trust_args, optarg) < 0)
                                return log_fail(-ENOMEM, _("out of memory"));
                        break;
                default: return usage_bad_option(&command_return, argv);
                }
        if (argc - optind != 1)
                return usage_error(&command_return, _("expected TARGET"));
        if (!is_reason(reason))
                return usage_error(&command_return, _("--reason is a word of a-z and '-' (left, broken...), not '%s'"),
                                   reason);
        code = journal_arg_open(journal, false, &j);
        if (code != EXIT_OK)
                return code;
        r = trust_load(&trust_args, &trust);
        if (r < 0)
                return exit_code_for(r);
        r = key_open_read(argv[optind], &fd, &size, &err);
        if (r < 0) {
                log_error(r, "%s", ERROR_TEXT(&err, r));
                return EXIT_NOT_CARTABLE;
        }
        const struct verify_options vo = { .trust = trust, .state_dir = arg_config->state_dir };
        r = verify_key_with(fd_read_at, (void *) (intptr_t) fd, size, &vo, &v, &err);
        if (r < 0) {
                /* TRANSLATORS: the key, why it could not be verified. */
                log_error(r, _("%s: %s: nothing recorded"), argv[optind], ERROR_TEXT(&err, r));
                return EXIT_NOT_CARTABLE;
        }
        /* Refuse before writing anything: only an issued key comes back. */
        key_usb_serial(fd, usb, sizeof(usb));
        r = lifecycle_find_key(j, v->volume_id, v->is_key_record_valid ? &v->key_record : NULL, usb, &k, NULL, 0, false,
                               &err);
        if (r < 0)
                return journal_fail(r, &err);
        if (!streq(k->status, "issued"))
                /* TRANSLATORS: the key's uid, its status ("stock", "lost"). */
                return log_fail(-EINVAL, _("key %s is %s, not issued to a pupil: it cannot be returned; nothing "
                                           "recorded"), k->uid, status_words(k->status));
        code = record_verify(j, lifecycle_operator(op), v, usb, &swapped, &uid);
        if (code != EXIT_OK)
                return code;
        r = journal_key_mark(j, &(struct journal_mark) { .kind = "returned", .key = uid,
                                 .operator = lifecycle_operator(op), .reason = reason,
                                 .outcome = verify_outcome(v, swapped) }, NULL, &err);
        if (r < 0)
                return journal_fail(r, &err);
        print_returned(k, reason, v, swapped);
        return verify_result_is_intact(v) && !swapped ? EXIT_OK : EXIT_MODIFIED;
}

const struct command command_return = {
        .name = "return",
        .summary = N_("take a key back: verify it, record it returned"),
        .help = N_("Usage: cartable return TARGET [--reason left|broken|end-of-year|...] [--trust KEY]...\n"
                "                       [--journal DB] [--operator NAME]\n"
                "\n"
                "A key comes back: it is verified (missing, modified and extra files, sealed\n"
                "directories, partition table), the verification and the return are recorded in\n"
                "the journal, and the pupil's own files are listed by name and size, never printed.\n"
                "Only a key issued to a pupil can be returned; anything else changes nothing.\n"
                "\n"
                "Exit codes: 0 returned intact; 1 returned, modified or swapped; 2 not a cartable\n"
                "key; 3 untrusted signature; 64 usage; 65 the key is not issued; 66 unknown key,\n"
                "no journal. See cartable-lifecycle(1).\n"),
        .run = run_return,
};

/* ---- journal purge ---- */

static int on_purged(void *userdata, const char *school, const char *id, const char *class_name, int64_t left_usec) {
        char t[32];

        _cleanup_free_ char *c = safe_text(class_name);

        time_format(left_usec / 1000000, t);
        t[10] = 0;
        /* TRANSLATORS: a pupil's school (UAI) and id, class, the day the pupil left (YYYY-MM-DD). */
        printf(_("would purge %s/%s, class %s, left %s\n"), school, id, c ? c : "", t);
        return 0;
}

int run_journal_purge(int argc, char **argv) {
        static const struct option options[] = {
                { "journal", required_argument, NULL, OPT_JOURNAL },
                { "operator", required_argument, NULL, OPT_OPERATOR },
                { "left-before", required_argument, NULL, 'l' },
                { "dry-run", no_argument, NULL, 'n' },
                {}
        };
        _cleanup_(journal_closep) struct journal *j = NULL;
        const char *journal = NULL, *op = NULL, *date = NULL;
        struct journal_purge_counts n;
        struct cart_error err = {};
        bool dry_run = false;
        struct tm tm = {};
        const char *end;
        int c, code, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case OPT_JOURNAL: journal = optarg; break;
                case OPT_OPERATOR: op = optarg; break;
                case 'l': date = optarg; break;
                case 'n': dry_run = true; break;
                default: return usage_bad_option(&command_journal, argv);
                }
        if (optind != argc)
                return usage_error(&command_journal, _("journal purge: unexpected argument '%s'"), argv[optind]);
        if (!date)
                return usage_error(&command_journal, _("journal purge needs --left-before YYYY-MM-DD"));
        end = strptime(date, "%Y-%m-%d", &tm);
        if (!end || *end)
                return usage_error(&command_journal, _("journal purge: '%s' is not a date YYYY-MM-DD"), date);
        code = journal_arg_open(journal, false, &j);
        if (code != EXIT_OK)
                return code;
        r = journal_purge(j, (int64_t) timegm(&tm) * 1000000, lifecycle_operator(op), dry_run,
                          dry_run ? on_purged : NULL, NULL, &n, &err);
        if (r < 0)
                return journal_fail(r, &err);
        if (dry_run)
                /* TRANSLATORS: a count of pupils, a date (YYYY-MM-DD). */
                printf(ngettext("dry run: %" PRIu64 " pupil who left before %s: names and ids would be erased\n",
                                "dry run: %" PRIu64 " pupils who left before %s: names and ids would be erased\n",
                                (unsigned long) n.pupils), n.pupils, date);
        else {
                /* TRANSLATORS: a count of pupils, a date (YYYY-MM-DD); then a count of journal events. */
                printf(ngettext("%" PRIu64 " pupil who left before %s: names and ids erased\n",
                                "%" PRIu64 " pupils who left before %s: names and ids erased\n",
                                (unsigned long) n.pupils), n.pupils, date);
                printf(ngettext("%" PRIu64 " event lost its pupil id\n", "%" PRIu64 " events lost their pupil id\n",
                                (unsigned long) n.events), n.events);
        }
        if (n.kept_v1)
                printf(ngettext("%" PRIu64 " id kept, named by events written before journal schema v2\n",
                                "%" PRIu64 " ids kept, named by events written before journal schema v2\n",
                                (unsigned long) n.kept_v1), n.kept_v1);
        return EXIT_OK;
}
