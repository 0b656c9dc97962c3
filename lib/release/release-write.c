/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The release file: an uncompressed tar written with libarchive (POSIX pax, extended
 * headers only where a name needs one), every header field fixed (owner 0, modes 0644 and
 * 0755, the entries' times), members in layout order: manifest.json, its minisign
 * signature, then the payload. The same tree and key give the same bytes.
 */
#include <archive.h>
#include <archive_entry.h>
#include <inttypes.h>

#include "release/release-build.h"

static int archive_fail(struct archive *a, struct builder *b, const char *what) {
        int e = archive_errno(a);

        cart_error_set(b->err, -EIO, "writing the release: %s: %s", what,
                       archive_error_string(a) ?: W_("libarchive error"));
        /* libarchive says "Write error": the errno says why (a full file system), in cmd/'s words. */
        if (e > 0 && b->err) {
                b->err->reason = CART_REASON_SYSTEM;
                b->err->errnum = e;
        }
        return -EIO;
}

static int write_header(struct archive *a, struct builder *b, const char *path, bool is_dir, uint64_t size,
                        int64_t mtime) {
        struct archive_entry *e = archive_entry_new();
        int r;

        if (!e)
                return -ENOMEM;
        archive_entry_set_pathname_utf8(e, path);
        archive_entry_set_filetype(e, is_dir ? AE_IFDIR : AE_IFREG);
        archive_entry_set_perm(e, is_dir ? 0755 : 0644);
        archive_entry_set_size(e, (la_int64_t) size);
        archive_entry_set_mtime(e, (time_t) mtime, 0);
        archive_entry_set_uid(e, 0);
        archive_entry_set_gid(e, 0);
        r = archive_write_header(a, e);
        archive_entry_free(e);
        return r == ARCHIVE_OK ? 0 : archive_fail(a, b, path);
}

static int write_data(struct archive *a, struct builder *b, const char *path, const void *buf, size_t len) {
        la_ssize_t n = archive_write_data(a, buf, len);

        return n == (la_ssize_t) len ? 0 : archive_fail(a, b, path);
}

static int write_member(struct archive *a, struct builder *b, const char *path, int64_t mtime,
                        const void *buf, size_t len) {
        int r = write_header(a, b, path, false, len, mtime);

        return r < 0 ? r : write_data(a, b, path, buf, len);
}

static int copy_from_spool(struct archive *a, struct builder *b, const struct build_entry *e, uint8_t *buf) {
        for (uint64_t done = 0; done < e->size;) {
                size_t n = (size_t) MIN(e->size - done, (uint64_t) MIB);
                int r = pread_full(b->spool_fd, buf, n, e->spool_offset + done);
                if (r < 0)
                        return cart_error_errno(b->err, r, e->path, "cannot read staged content");
                r = write_data(a, b, e->path, buf, n);
                if (r < 0)
                        return r;
                done += n;
        }
        return 0;
}

static int entry_cmp(const void *x, const void *y) {
        const struct build_entry *const *a = x, *const *c = y;

        return path_layout_cmp((*a)->path, (*c)->path);
}

static int build_manifest(struct builder *b, const struct sign_secret_key *key, struct build_entry **order,
                          struct manifest **ret) {
        _cleanup_(manifest_freep) struct manifest *m = NULL;
        const struct recipe *rc = b->rc;
        struct release_layout *l;
        uint8_t id[SIGN_KEYID_LEN];
        int r;

        r = manifest_new(&m);
        if (r < 0)
                return r;
        m->name = strdup(rc->name);
        m->version = strdup(rc->version);
        m->key_id = malloc(2 * SIGN_KEYID_LEN + 1);
        l = &m->layout;
        l->scheme = strdup(rc->scheme ?: "mbr");
        l->label = strdup(rc->label ?: RECIPE_DEFAULT_LABEL);
        l->sealed = calloc(rc->sealed.n + 1, sizeof(char *));
        if (!m->name || !m->version || !m->key_id || !l->scheme || !l->label || !l->sealed)
                return -ENOMEM;
        for (; l->n_sealed < rc->sealed.n; l->n_sealed++)
                if (!(((char **) l->sealed)[l->n_sealed] = strdup(rc->sealed.v[l->n_sealed])))
                        return -ENOMEM;
        sign_secret_key_id(key, id);
        sign_key_id_hex(id, m->key_id);
        m->serial = rc->serial;
        m->created = rc->has_time ? rc->time : b->max_mtime;
        l->alignment = rc->alignment;
        l->min_size = rc->min_size;
        l->cluster_size = rc->cluster_size;
        for (size_t i = 0; i < b->n; i++) {
                const struct build_entry *e = order[i];
                struct release_file f = {
                        .path = e->path, .is_dir = e->is_dir, .size = e->size,
                        .attrs = e->attrs, .mtime = e->mtime,
                };
                memcpy(f.sha256, e->sha256, sizeof(f.sha256));
                r = manifest_add_file(m, &f, b->err);
                if (r < 0)
                        return r;
        }
        if (b->owner_template) {
                m->owner_path = strdup(rc->owner_path);
                m->owner_template = strdup(b->owner_template);
                if (!m->owner_path || !m->owner_template)
                        return -ENOMEM;
        }
        r = manifest_serialise(m);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

int builder_write(struct builder *b, const struct sign_secret_key *key, int out_fd) {
        _cleanup_(manifest_freep) struct manifest *m = NULL;
        _cleanup_free_ struct build_entry **order = NULL;
        _cleanup_free_ char *comment = NULL, *sig = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        struct archive *a = NULL;
        int r;

        order = calloc(b->n + 1, sizeof(*order));
        buf = malloc(MIB);
        if (!order || !buf)
                return -ENOMEM;
        for (size_t i = 0; i < b->n; i++)
                order[i] = &b->entries[i];
        qsort(order, b->n, sizeof(*order), entry_cmp);
        r = build_manifest(b, key, order, &m);
        if (r < 0)
                return r;
        r = manifest_trusted_comment(m, &comment);
        if (r < 0)
                return r;
        r = sign_message(key, m->json, m->json_len, comment, &sig, b->err);
        if (r < 0)
                return r;

        a = archive_write_new();
        if (!a)
                return -ENOMEM;
        if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
            archive_write_add_filter_none(a) != ARCHIVE_OK ||
            archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
            archive_write_open_fd(a, out_fd) != ARCHIVE_OK) {
                r = archive_fail(a, b, "setup");
                goto finish;
        }
        r = write_member(a, b, RELEASE_MANIFEST_PATH, m->created, m->json, m->json_len);
        if (r >= 0)
                r = write_member(a, b, RELEASE_SIGNATURE_PATH, m->created, sig, strlen(sig));
        for (size_t i = 0; r >= 0 && i < b->n; i++) {
                r = write_header(a, b, order[i]->path, order[i]->is_dir, order[i]->is_dir ? 0 : order[i]->size,
                                 order[i]->mtime);
                if (r >= 0 && !order[i]->is_dir)
                        r = copy_from_spool(a, b, order[i], buf);
        }
        if (r >= 0 && archive_write_close(a) != ARCHIVE_OK)
                r = archive_fail(a, b, "end of archive");
finish:
        archive_write_free(a);
        return r;
}
