/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Opening a release: the signature first (fail closed), then a strict walk of the tar's
 * 512-byte headers (POSIX ustar with pax "path" records, nothing else) cross-checked
 * against the manifest, which gives each payload's data offset for streaming, then each
 * payload's SHA-256. Nothing the manifest does not announce may be in the file.
 */
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>

#include "base/hash.h"
#include "release/release-internal.h"

#define TAR_BLOCK 512
#define MANIFEST_MAX (64 * MIB)
#define SIGNATURE_MAX (64 * KIB)
#define PAX_MAX (64 * KIB)
/* libarchive pads the end of archive to its block size at most. */
#define TAR_TAIL_MAX (10 * KIB)

struct release {
        unsigned n_ref;
        int fd;
        char *path;
        uint64_t file_size;
        struct manifest *m;
        char *sig_text;
};

struct tar_member {
        char *path;
        char type;                 /* '0' file, '5' directory */
        uint64_t size;
        uint64_t data_offset;
        uint64_t header_offset;
};

static bool is_zero(const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (p[i])
                        return false;
        return true;
}

/* An octal field: digits, then NUL or spaces to its end. */
static int parse_octal(const uint8_t *f, size_t n, uint64_t *ret) {
        uint64_t v = 0;
        size_t i = 0;

        while (i < n && f[i] == ' ')
                i++;
        if (i == n || f[i] < '0' || f[i] > '7')
                return -EBADMSG;
        for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
                if (v >> 60)
                        return -EBADMSG;
                v = v * 8 + (uint64_t) (f[i] - '0');
        }
        for (; i < n; i++)
                if (f[i] != 0 && f[i] != ' ')
                        return -EBADMSG;
        *ret = v;
        return 0;
}

static int check_header(const uint8_t *h) {
        uint64_t want, sum = 0;

        if (memcmp(h + 257, "ustar\0" "00", 8) != 0)
                return -EBADMSG;
        if (parse_octal(h + 148, 8, &want) < 0)
                return -EBADMSG;
        for (size_t i = 0; i < TAR_BLOCK; i++)
                sum += (i >= 148 && i < 156) ? ' ' : h[i];
        return sum == want ? 0 : -EBADMSG;
}

/* A NUL-terminated field of at most n bytes. */
static char *field(const uint8_t *f, size_t n) {
        return strndup((const char *) f, n);
}

/* pax records "LEN key=value\n": only "path" is expected (what libarchive writes for names). */
static int parse_pax(const char *p, size_t len, char **ret_path) {
        _cleanup_free_ char *path = NULL;
        size_t pos = 0;

        while (pos < len) {
                char *end;
                unsigned long n = strtoul(p + pos, &end, 10);
                const char *rec = p + pos, *eq;

                if (end == rec || *end != ' ' || n == 0 || n > len - pos || rec[n - 1] != '\n')
                        return -EBADMSG;
                eq = memchr(end + 1, '=', (size_t) (rec + n - end - 1));
                if (!eq || (size_t) (eq - end - 1) != 4 || memcmp(end + 1, "path", 4) != 0 || path)
                        return -EBADMSG;
                path = strndup(eq + 1, (size_t) (rec + n - 1 - eq - 1));
                if (!path || strlen(path) != (size_t) (rec + n - 1 - eq - 1))
                        return -EBADMSG;
                pos += n;
        }
        if (!path)
                return -EBADMSG;
        *ret_path = TAKE_PTR(path);
        return 0;
}

/*
 * The member at *pos: 1 and *ret, or 0 at the end-of-archive block. -EBADMSG for any
 * header libarchive would not have written for a release.
 */
static int tar_next(struct release *rel, uint64_t *pos, struct tar_member *ret, struct cart_error *err) {
        _cleanup_free_ char *pax_path = NULL, *name = NULL, *prefix = NULL;
        uint8_t h[TAR_BLOCK];
        uint64_t at = *pos, size;
        int r;

        for (;;) {
                if (at + TAR_BLOCK > rel->file_size)
                        return cart_error_set(err, -EBADMSG, "%s: truncated at byte %" PRIu64, rel->path, at);
                r = pread_full(rel->fd, h, TAR_BLOCK, at);
                if (r < 0)
                        return cart_error_errno(err, r, rel->path, NULL);
                if (is_zero(h, TAR_BLOCK) && !pax_path) {
                        *pos = at + TAR_BLOCK;
                        return 0;
                }
                if (check_header(h) < 0 || parse_octal(h + 124, 12, &size) < 0)
                        return cart_error_set(err, -EBADMSG, "%s: byte %" PRIu64 ": not a POSIX tar header", rel->path, at);
                if (size > rel->file_size - at - TAR_BLOCK)
                        return cart_error_set(err, -EBADMSG, "%s: byte %" PRIu64 ": member runs past the end of the file",
                                              rel->path, at);
                if (h[156] != 'x')
                        break;
                if (pax_path || size > PAX_MAX)
                        return cart_error_set(err, -EBADMSG, "%s: byte %" PRIu64 ": unexpected extended header", rel->path, at);
                _cleanup_free_ char *pax = calloc(1, size + 1);
                if (!pax)
                        return -ENOMEM;
                r = pread_full(rel->fd, pax, size, at + TAR_BLOCK);
                if (r < 0)
                        return cart_error_errno(err, r, rel->path, NULL);
                if (parse_pax(pax, size, &pax_path) < 0)
                        return cart_error_set(err, -EBADMSG, "%s: byte %" PRIu64 ": unexpected extended header", rel->path, at);
                at += TAR_BLOCK + ALIGN_POW2(size, TAR_BLOCK);
        }
        if ((h[156] != '0' && h[156] != '5') || h[157] != 0)
                return cart_error_set(err, -EBADMSG, "%s: byte %" PRIu64 ": member of type '%c': a release holds only files and directories",
                                      rel->path, at, h[156] ? h[156] : '0');
        name = field(h, 100);
        prefix = field(h + 345, 155);
        if (!name || !prefix)
                return -ENOMEM;
        *ret = (struct tar_member) { .type = (char) h[156], .size = size, .header_offset = *pos,
                                     .data_offset = at + TAR_BLOCK };
        if (pax_path)
                ret->path = TAKE_PTR(pax_path);
        else if (*prefix) {
                if (asprintf(&ret->path, "%s/%s", prefix, name) < 0)
                        return -ENOMEM;
        } else
                ret->path = TAKE_PTR(name);
        /* Directories may carry a trailing '/'. */
        size_t n = strlen(ret->path);
        if (ret->type == '5' && n > 1 && ret->path[n - 1] == '/')
                ret->path[n - 1] = 0;
        *pos = at + TAR_BLOCK + ALIGN_POW2(size, TAR_BLOCK);
        return 1;
}

/* A small member read whole (the manifest, its signature). */
static int read_member(struct release *rel, uint64_t *pos, const char *want, uint64_t max, char **ret,
                       size_t *ret_len, struct cart_error *err) {
        struct tar_member t = {};
        _cleanup_free_ char *buf = NULL;
        int r = tar_next(rel, pos, &t, err);

        if (r < 0)
                return r;
        _cleanup_free_ char *path = t.path;
        if (r == 0 || t.type != '0' || !streq(path, want))
                return cart_error_set(err, -EBADMSG, "%s: not a cartable release (%s expected at byte %" PRIu64 ")",
                                      rel->path, want, t.header_offset);
        if (t.size > max)
                return cart_error_set(err, -EBADMSG, "%s: %s is larger than %" PRIu64 " bytes", rel->path, want, max);
        buf = calloc(1, t.size + 1);
        if (!buf)
                return -ENOMEM;
        r = pread_full(rel->fd, buf, t.size, t.data_offset);
        if (r < 0)
                return cart_error_errno(err, r, rel->path, NULL);
        *ret_len = t.size;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* Every member after the signature is the next file of the manifest, and nothing follows. */
/* A payload member that is not what the signed manifest says: tampered, the release as the
 * subject and the member as the label; the words in msg. */
static int tampered(struct cart_error *err, const struct release *rel, const char *member, const char *fmt, ...) _printf_(4, 5);
static int tampered(struct cart_error *err, const struct release *rel, const char *member, const char *fmt, ...) {
        char where[512];
        va_list ap;
        int r;

        snprintf(where, sizeof(where), "%s: %s", rel->path, member);
        va_start(ap, fmt);
        r = cart_error_vdiag(err, -EKEYREJECTED, CART_REASON_TAMPERED, rel->path, member, where, fmt, ap);
        va_end(ap);
        return r;
}

static int walk_payload(struct release *rel, uint64_t pos, struct cart_error *err) {
        struct manifest *m = rel->m;
        uint8_t tail[TAR_BLOCK];
        int r;

        for (size_t i = 0;; i++) {
                struct tar_member t = {};
                r = tar_next(rel, &pos, &t, err);
                if (r < 0)
                        return r;
                _cleanup_free_ char *path = t.path;
                if (r == 0 && i < m->n_files)
                        return tampered(err, rel, m->files[i].path, "missing (the archive ends before it)");
                if (r == 0)
                        break;
                if (i >= m->n_files)
                        return cart_error_set(err, -EBADMSG, "%s: %s: not in the signed manifest", rel->path, path);
                struct release_file *f = &m->files[i];
                if (!streq(path, f->path))
                        return cart_error_set(err, -EBADMSG, "%s: %s: where the signed manifest has %s",
                                              rel->path, path, f->path);
                if ((t.type == '5') != f->is_dir || (f->is_dir && t.size != 0))
                        return tampered(err, rel, path, "not a %s as the signed manifest says", f->is_dir ? W_("directory") : W_("file"));
                if (!f->is_dir && t.size != f->size)
                        return tampered(err, rel, path, "%" PRIu64 " bytes where the signed manifest has %" PRIu64, t.size, f->size);
                f->data_offset = t.data_offset;
        }
        /* The end-of-archive blocks, and libarchive's padding: zeros only. */
        if (rel->file_size - pos > TAR_TAIL_MAX)
                return cart_error_set(err, -EBADMSG, "%s: %" PRIu64 " bytes after the end of the archive", rel->path,
                                      rel->file_size - pos);
        for (; pos < rel->file_size; pos += TAR_BLOCK) {
                size_t n = (size_t) MIN((uint64_t) TAR_BLOCK, rel->file_size - pos);
                r = pread_full(rel->fd, tail, n, pos);
                if (r < 0)
                        return cart_error_errno(err, r, rel->path, NULL);
                if (!is_zero(tail, n))
                        return cart_error_set(err, -EBADMSG, "%s: data after the end of the archive (byte %" PRIu64 ")",
                                              rel->path, pos);
        }
        return 0;
}

static int check_one(const struct release *rel, const struct release_file *f, struct hash_sha256 *h, uint8_t *buf,
                     struct cart_error *err) {
        uint8_t digest[HASH_SHA256_LEN];
        int r = hash_sha256_reset(h);

        for (uint64_t done = 0; r >= 0 && done < f->size;) {
                size_t n = (size_t) MIN(f->size - done, (uint64_t) MIB);
                r = pread_full(rel->fd, buf, n, f->data_offset + done);
                if (r >= 0)
                        r = hash_sha256_update(h, buf, n);
                done += n;
        }
        if (r >= 0)
                r = hash_sha256_final(h, digest);
        if (r < 0)
                return cart_error_prefix(err, cart_error_errno(err, r, f->path, NULL), "%s", rel->path);
        if (memcmp(digest, f->sha256, sizeof(digest)) != 0)
                return tampered(err, rel, f->path, "content differs from the signed manifest (SHA-256)");
        return 0;
}

static int check_files(const struct release *rel, const struct release_file *const *files, size_t n,
                       struct cart_error *err) {
        _cleanup_(hash_sha256_freep) struct hash_sha256 *h = NULL;
        _cleanup_free_ uint8_t *buf = malloc(MIB);
        int r;

        if (!buf)
                return -ENOMEM;
        r = hash_sha256_new(&h);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = files[i]->is_dir ? 0 : check_one(rel, files[i], h, buf, err);
        return r;
}

static int check_hashes(struct release *rel, struct cart_error *err) {
        _cleanup_free_ const struct release_file **v = calloc(rel->m->n_files + 1, sizeof(*v));

        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < rel->m->n_files; i++)
                v[i] = &rel->m->files[i];
        return check_files(rel, v, rel->m->n_files, err);
}

int release_check_files(const struct release *rel, const struct release_file *const *files, size_t n,
                        struct cart_error *err) {
        return check_files(rel, files, n, err);
}

static void release_free(struct release *rel) {
        if (rel->fd >= 0)
                close(rel->fd);
        manifest_free(rel->m);
        free(rel->sig_text);
        free(rel->path);
        free(rel);
}

struct release *release_ref(struct release *rel) {
        if (rel)
                __atomic_add_fetch(&rel->n_ref, 1, __ATOMIC_RELAXED);
        return rel;
}

struct release *release_unref(struct release *rel) {
        if (rel && __atomic_sub_fetch(&rel->n_ref, 1, __ATOMIC_ACQ_REL) == 0)
                release_free(rel);
        return NULL;
}

DEFINE_POINTER_CLEANUP(struct release, release_free);

int release_open(const char *path, const struct sign_trust *trust, unsigned flags,
                 struct release **ret, struct cart_error *err) {
        _cleanup_(release_freep) struct release *rel = NULL;
        _cleanup_free_ char *json = NULL;
        size_t json_len, sig_len;
        uint64_t pos = 0;
        struct stat st;
        int r;

        if (!trust && !(flags & RELEASE_OPEN_UNVERIFIED))
                return cart_error_reason_set(err, -ENOKEY, CART_REASON_NO_TRUST, path);
        rel = calloc(1, sizeof(*rel));
        if (!rel)
                return -ENOMEM;
        rel->n_ref = 1;
        rel->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (rel->fd < 0)
                return cart_error_errno(err, -errno, path, NULL);
        if (fstat(rel->fd, &st) < 0)
                return cart_error_errno(err, -errno, path, NULL);
        if (!S_ISREG(st.st_mode))
                return cart_error_set(err, -EBADMSG, "%s: not a regular file", path);
        rel->file_size = (uint64_t) st.st_size;
        rel->path = strdup(path);
        if (!rel->path)
                return -ENOMEM;

        r = read_member(rel, &pos, RELEASE_MANIFEST_PATH, MANIFEST_MAX, &json, &json_len, err);
        if (r < 0)
                return r;
        r = read_member(rel, &pos, RELEASE_SIGNATURE_PATH, SIGNATURE_MAX, &rel->sig_text, &sig_len, err);
        if (r < 0)
                return r;
        if (strlen(rel->sig_text) != sig_len)
                return cart_error_set(err, -EBADMSG, "%s: %s holds NUL bytes", path, RELEASE_SIGNATURE_PATH);
        if (trust)
                r = manifest_load(trust, json, json_len, rel->sig_text, &rel->m, err);
        else
                r = manifest_parse(json, json_len, &rel->m, err);
        if (r < 0)
                return cart_error_prefix(err, r, "%s: %s", path, RELEASE_MANIFEST_PATH);
        r = walk_payload(rel, pos, err);
        if (r < 0)
                return r;
        if (!(flags & RELEASE_OPEN_SKIP_HASH)) {
                r = check_hashes(rel, err);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(rel);
        return 0;
}

const struct manifest *release_manifest(const struct release *rel) {
        return rel->m;
}

void release_manifest_bytes(const struct release *rel, const void **ret_json, size_t *ret_len) {
        *ret_json = rel->m->json;
        *ret_len = rel->m->json_len;
}

const char *release_signature_text(const struct release *rel) {
        return rel->sig_text;
}

int release_read(void *userdata, void *buf, size_t len, uint64_t offset) {
        struct release *rel = userdata;

        if (offset > rel->file_size || len > rel->file_size - offset)
                return -ENODATA;
        return pread_full(rel->fd, buf, len, offset);
}
