/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the format readers (roster-csv.c, roster-siecle.c) share: text helpers, UAI and value
 * checks, and turning a read pupil into a record (derived id, INE hash). */
#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/hash.h"
#include "roster/roster-internal.h"

bool roster_uai_is_valid(const char *uai) {
        if (!uai || strlen(uai) != 8)
                return false;
        for (int i = 0; i < 7; i++)
                if (!isdigit((unsigned char) uai[i]))
                        return false;
        return isalpha((unsigned char) uai[7]);
}

bool roster_uai_check_letter(const char *uai, char *ret_letter) {
        static const char letters[] = "ABCDEFGHJKLMNPRSTUVWXYZ";
        unsigned long n = 0;

        for (int i = 0; i < 7; i++)
                n = n * 10 + (unsigned long) (uai[i] - '0');
        *ret_letter = letters[n % 23];
        return toupper((unsigned char) uai[7]) == *ret_letter;
}

char *roster_strip(char *s) {
        size_t n;

        for (;;) {
                if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
                        s++;
                else if ((unsigned char) s[0] == 0xc2 && (unsigned char) s[1] == 0xa0)
                        s += 2;
                else
                        break;
        }
        n = strlen(s);
        for (;;) {
                if (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
                        n--;
                else if (n > 1 && (unsigned char) s[n - 2] == 0xc2 && (unsigned char) s[n - 1] == 0xa0)
                        n -= 2;
                else
                        break;
        }
        s[n] = 0;
        return s;
}

int roster_grow(void *p, size_t *cap, size_t n, size_t size) {
        void **pp = p, *q;
        size_t c;

        if (n <= *cap)
                return 0;
        c = MAX(MAX(*cap * 2, n), (size_t) 64);
        q = reallocarray(*pp, c, size);
        if (!q)
                return -ENOMEM;
        *pp = q;
        *cap = c;
        return 0;
}

char *roster_squash_space(char *s) {
        char *q = s;

        for (char *p = s; *p; p++) {
                if (*p == '\t' || *p == '\r' || *p == '\n') {
                        if (q == s || q[-1] != ' ')
                                *q++ = ' ';
                        continue;
                }
                *q++ = *p;
        }
        *q = 0;
        return s;
}

/* The ASCII letters a Latin-1 supplement letter (U+00C0..U+00FF, second byte of C3 xx)
 * loses its accent to; NULL for the few that are not letters (×, ÷). */
static const char *fold_latin1(unsigned char b2) {
        static const char *const map[64] = {
                "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
                "d", "n", "o", "o", "o", "o", "o", NULL, "o", "u", "u", "u", "u", "y", "th", "ss",
                "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
                "d", "n", "o", "o", "o", "o", "o", NULL, "o", "u", "u", "u", "u", "y", "th", "y",
        };

        if (b2 < 0x80 || b2 > 0xbf)
                return NULL;
        return map[b2 - 0x80];
}

void roster_fold(const char *s, bool keep_spaces, char *ret) {
        const unsigned char *p = (const unsigned char *) s;
        char *q = ret;
        bool space = false;

        while (*p) {
                const char *f = NULL;
                size_t adv = 1;

                if (p[0] == 0xc3 && p[1])
                        f = fold_latin1(p[1]), adv = 2;
                else if (p[0] == 0xc5 && (p[1] == 0x92 || p[1] == 0x93))
                        f = "oe", adv = 2;                              /* Œ œ */
                else if (p[0] == 0xc5 && (p[1] == 0xa0 || p[1] == 0xa1))
                        f = "s", adv = 2;                               /* Š š */
                else if (p[0] == 0xc5 && (p[1] == 0xbd || p[1] == 0xbe))
                        f = "z", adv = 2;                               /* Ž ž */
                else if (p[0] == 0xc5 && p[1] == 0xb8)
                        f = "y", adv = 2;                               /* Ÿ */

                if ((p[0] == 0xcc && p[1] >= 0x80 && p[1] <= 0xbf) || (p[0] == 0xcd && p[1] >= 0x80 && p[1] <= 0xaf)) {
                        /* A combining accent (U+0300..U+036F): a decomposed (NFD) name
                         * folds as its composed form does. */
                        p += 2;
                        continue;
                }
                if (f) {
                        if (space && q > ret)
                                *q++ = ' ';
                        space = false;
                        q = stpcpy(q, f);
                } else if (isalnum(p[0]) && p[0] < 0x80) {
                        if (space && q > ret)
                                *q++ = ' ';
                        space = false;
                        *q++ = (char) tolower(p[0]);
                } else if (p[0] == ' ' || p[0] == '\t' || p[0] == '\r' || p[0] == '\n') {
                        space = keep_spaces;
                } else if (keep_spaces) {
                        /* A name keeps what it cannot fold (other scripts, hyphens). */
                        if (space && q > ret)
                                *q++ = ' ';
                        space = false;
                        *q++ = (char) p[0];
                }
                if (adv == 2 && !p[1])
                        adv = 1;
                p += adv;
        }
        *q = 0;
}

void roster_fold_name(const char *s, char *ret) {
        roster_fold(s, true, ret);
}

int roster_check_uai(struct roster_ctx *c, const char *uai, const char *where, char ret[16], struct cart_error *err) {
        const char *want = c->o->school_uai;

        if (!roster_uai_is_valid(uai))
                return cart_error_set(err, -EBADMSG, "%s: %s: \"%.40s\" is not a school UAI (7 digits and a letter)",
                                      c->path, where, uai);
        for (int i = 0; i < 8; i++)
                ret[i] = (char) toupper((unsigned char) uai[i]);
        ret[8] = 0;
        if (want && *want && strcasecmp(want, ret) != 0)
                return cart_error_set(err, -EBADMSG, "%s: %s: the file is school %s's, not %s", c->path, where, ret, want);
        return 0;
}

int roster_set_school(struct roster_ctx *c, const char *file_uai, const char *where, struct cart_error *err) {
        const char *want = c->o->school_uai;

        if (file_uai && *file_uai)
                return roster_check_uai(c, file_uai, where, c->info.school_uai, err);
        c->info.school_uai[0] = 0;
        if (want && *want) {
                if (!roster_uai_is_valid(want))
                        return cart_error_set(err, -EINVAL, "\"%.40s\" is not a school UAI (7 digits and a letter)", want);
                for (int i = 0; i < 8; i++)
                        c->info.school_uai[i] = (char) toupper((unsigned char) want[i]);
                c->info.school_uai[8] = 0;
        }
        return 0;
}

int roster_check_value(struct roster_ctx *c, const char *what, const char *value, unsigned line, struct cart_error *err) {
        size_t n = strlen(value);

        if (n > ROSTER_MAX_VALUE)
                return cart_error_set(err, -EBADMSG, "%s: line %u: %s longer than %d bytes", c->path, line, what,
                                      ROSTER_MAX_VALUE);
        /* Text is kept as given, but a control character (a newline in a name, a terminal
         * escape) is damage, not a name. */
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) value[i] < 0x20 || value[i] == 0x7f)
                        return cart_error_set(err, -EBADMSG, "%s: line %u: control character 0x%02x in the %s",
                                              c->path, line, (unsigned) (unsigned char) value[i], what);
        return 0;
}

static int hmac_sha256(const uint8_t *key, size_t key_len, const void *msg, size_t len, uint8_t ret[32]) {
        unsigned out_len = 0;

        if (!HMAC(EVP_sha256(), key, (int) key_len, msg, len, ret, &out_len) || out_len != 32)
                return -ENOMEM;
        return 0;
}

int roster_leave_date(struct roster_ctx *c, const char *value, bool is_mark_ok, const char *what, unsigned line,
                      struct roster_pupil *p, char buf[static 11], struct cart_error *err) {
        p->leave_date = "";
        p->has_left = false;
        if (!value || !*value)
                return 0;
        if (roster_date_normalise(value, buf) == 0) {
                /* Left on the day itself, as GEPI reads DATE_SORTIE: the first day out of school. */
                p->leave_date = buf;
                p->has_left = strcmp(buf, c->today) <= 0;
                return 0;
        }
        if (!is_mark_ok)
                return cart_error_set(err, -EBADMSG, "%s: line %u: %s \"%.40s\" is not a date (DD/MM/YYYY)",
                                      c->path, line, what, value);
        p->has_left = true;
        return 0;
}

int roster_emit(struct roster_ctx *c, struct roster_pupil *p, const char *ine, struct cart_error *err) {
        int r;

        if (!p->school_uai || !*p->school_uai)
                p->school_uai = c->info.school_uai;
        if (!*p->school_uai)
                return cart_error_set(err, -EBADMSG, "%s: line %u: the file names no school UAI: give the school (--school)",
                                      c->path, p->line);
        p->leave_date = p->leave_date ?: "";
        p->other_class = p->other_class ?: "";
        p->ine_hmac = NULL;
        if (c->o->keep_ine && ine && *ine) {
                char buf[64];
                uint8_t mac[32];
                size_t n = 0;

                if (strlen(ine) > 32)
                        return cart_error_set(err, -EBADMSG, "%s: line %u: INE longer than 32 characters", c->path, p->line);
                /* Domain-separated from derived ids; the INE upper-cased (its letter's case varies). */
                n = (size_t) snprintf(buf, sizeof(buf), "cartable-ine-v1%c", 0);
                for (const char *s = ine; *s && n < sizeof(buf) - 1; s++)
                        buf[n++] = (char) toupper((unsigned char) *s);
                r = hmac_sha256(c->o->secret, c->o->secret_len, buf, n, mac);
                if (r < 0)
                        return cart_error_set(err, r, "%s: line %u: HMAC failed", c->path, p->line);
                hash_to_hex(mac, sizeof(mac), c->ine_hmac);
                p->ine_hmac = c->ine_hmac;
        }
        r = c->fn(c->userdata, p, err);
        if (r < 0)
                return r;
        c->info.n_pupils++;
        return 0;
}

int roster_date_normalise(const char *s, char ret[static 11]) {
        static const unsigned days[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        unsigned d, m, y;
        int n = 0;

        if (sscanf(s, "%4u-%2u-%2u%n", &y, &m, &d, &n) == 3 && n == 10 && s[4] == '-')
                ;
        else if (n = 0, sscanf(s, "%2u%*[/.-]%2u%*[/.-]%4u%n", &d, &m, &y, &n) == 3 && n == 10)
                ;
        else
                return -EBADMSG;
        if (s[n] || y < 1900 || y > 2200 || m < 1 || m > 12 || d < 1 || d > days[m - 1])
                return -EBADMSG;
        if (m == 2 && d == 29 && (y % 4 != 0 || (y % 100 == 0 && y % 400 != 0)))
                return -EBADMSG;
        snprintf(ret, 11, "%04u-%02u-%02u", y % 10000, m % 100, d % 100);
        return 0;
}

int roster_derive_id(const uint8_t *secret, size_t secret_len, const char *uai, const char *family, const char *first,
                     const char *birth_date, char ret[static 33], struct cart_error *err) {
        _cleanup_free_ char *msg = NULL;
        char birth[11] = "";
        uint8_t mac[32];
        size_t lf, lp, n = 0;
        int r;

        if (!secret || secret_len < 16)
                return cart_error_set(err, -EINVAL, "deriving pupil ids needs the station secret");
        uai = uai ?: "";
        family = family ?: "";
        first = first ?: "";
        if (birth_date && *birth_date && roster_date_normalise(birth_date, birth) < 0)
                return cart_error_set(err, -EBADMSG, "birth date \"%.40s\" is neither DD/MM/YYYY nor YYYY-MM-DD",
                                      birth_date);

        lf = strlen(family);
        lp = strlen(first);
        msg = malloc(sizeof("cartable-pupil-id-v1") + 16 + lf + 1 + lp + 1 + sizeof(birth));
        if (!msg)
                return cart_error_set(err, -ENOMEM, "out of memory");
        n = stpcpy(msg, "cartable-pupil-id-v1") - msg + 1;
        for (size_t i = 0; uai[i] && i < 15; i++)
                msg[n++] = (char) toupper((unsigned char) uai[i]);
        msg[n++] = 0;
        roster_fold(family, true, msg + n);
        n += strlen(msg + n) + 1;
        roster_fold(first, true, msg + n);
        n += strlen(msg + n) + 1;
        n = stpcpy(msg + n, birth) - msg;

        r = hmac_sha256(secret, secret_len, msg, n, mac);
        if (r < 0)
                return cart_error_set(err, r, "HMAC failed");
        hash_to_hex(mac, ROSTER_DERIVED_ID_LEN / 2, ret);
        return 0;
}
