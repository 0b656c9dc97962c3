/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <archive.h>
#include <archive_entry.h>
#include <inttypes.h>
#include <sys/stat.h>

#include "release/bundle.h"

struct bundle {
        char *path;
        struct archive *a;
        bool is_disk;
        size_t root_len;              /* disk: length of the prefix libarchive puts on paths */
        struct bundle_limits *limits;
        char *entry_path;
        bool in_file;                 /* the current entry is a file whose data may be read */
        uint64_t file_size;           /* read so far of the current file */
        uint64_t declared_size;       /* its header's size: a sparse file's trailing hole is not read */
        bool at_data_end;
};

void bundle_limits_init(struct bundle_limits *l) {
        *l = (struct bundle_limits) {
                .max_files = BUNDLE_DEFAULT_MAX_FILES,
                .max_file_size = BUNDLE_DEFAULT_MAX_FILE_SIZE,
                .max_total_size = BUNDLE_DEFAULT_MAX_TOTAL_SIZE,
        };
}

struct bundle *bundle_free(struct bundle *b) {
        if (!b)
                return NULL;
        if (b->a)
                archive_read_free(b->a);
        free(b->entry_path);
        free(b->path);
        free(b);
        return NULL;
}

const char *bundle_path(const struct bundle *b) {
        return b->path;
}

/* An entry's diagnostic: bad-input, the bundle as the subject and the entry as the label. */
static int entry_error(struct cart_error *err, int r, const char *bundle, const char *entry, const char *fmt, ...) _printf_(5, 6);
static int entry_error(struct cart_error *err, int r, const char *bundle, const char *entry, const char *fmt, ...) {
        char where[512];
        va_list ap;

        snprintf(where, sizeof(where), "%s: %s", bundle, entry);
        va_start(ap, fmt);
        r = cart_error_vdiag(err, r, CART_REASON_BAD_INPUT, bundle, entry, where, fmt, ap);
        va_end(ap);
        return r;
}

static int archive_fail(struct bundle *b, const char *what, struct cart_error *err) {
        const char *msg = archive_error_string(b->a);

        if (b->entry_path)
                entry_error(err, -EBADMSG, b->path, b->entry_path, "%s", msg ? msg : what);
        else
                cart_error_set(err, -EBADMSG, "%s: %s", b->path, msg ? msg : what);
        return cart_error_where(err, -EBADMSG, CART_REASON_BAD_INPUT, b->path, b->entry_path);
}

/* Only these readers: none of them runs an external program. */
static int enable_formats(struct archive *a, const char *path, struct cart_error *err) {
        static const struct {
                const char *name;
                int (*enable)(struct archive *);
        } table[] = {
                { "tar", archive_read_support_format_tar },
                { "zip", archive_read_support_format_zip },
                { "gzip", archive_read_support_filter_gzip },
                { "xz", archive_read_support_filter_xz },
                { "zstd", archive_read_support_filter_zstd },
                { "bzip2", archive_read_support_filter_bzip2 },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (table[i].enable(a) != ARCHIVE_OK)
                        return cart_error_set(err, -ENOTSUP, "%s: libarchive has no built-in %s support",
                                              path, table[i].name);
        return 0;
}

int bundle_open(const char *path, struct bundle_limits *limits, struct bundle **ret,
                struct cart_error *err) {
        _cleanup_(bundle_freep) struct bundle *b = NULL;
        struct stat st;
        int r;

        if (stat(path, &st) < 0)
                return cart_error_errno(err, -errno, path, NULL);
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->path = strdup(path);
        if (!b->path)
                return -ENOMEM;
        /* "dir/" would give "dir//file" entries: read "dir". */
        for (size_t n = strlen(b->path); n > 1 && b->path[n - 1] == '/'; n--)
                b->path[n - 1] = 0;
        b->limits = limits;
        b->is_disk = S_ISDIR(st.st_mode);
        if (b->is_disk) {
                b->a = archive_read_disk_new();
                if (!b->a)
                        return -ENOMEM;
                /* Never follow a symlink: it is reported as one, and refused. */
                archive_read_disk_set_symlink_physical(b->a);
                archive_read_disk_set_behavior(b->a, ARCHIVE_READDISK_NO_XATTR | ARCHIVE_READDISK_NO_ACL |
                                               ARCHIVE_READDISK_NO_FFLAGS | ARCHIVE_READDISK_NO_SPARSE |
                                               ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS);
                if (archive_read_disk_open(b->a, b->path) != ARCHIVE_OK)
                        return archive_fail(b, "cannot read the directory", err);
        } else if (S_ISREG(st.st_mode)) {
                b->a = archive_read_new();
                if (!b->a)
                        return -ENOMEM;
                r = enable_formats(b->a, path, err);
                if (r < 0)
                        return r;
                if (archive_read_open_filename(b->a, path, 64 * KIB) != ARCHIVE_OK)
                        return archive_fail(b, "not a readable archive", err);
        } else
                return cart_error_set(err, -EBADMSG, "%s: neither an archive file nor a directory", path);
        *ret = TAKE_PTR(b);
        return 0;
}

static const char *type_name(mode_t type) {
        switch (type) {
        case AE_IFLNK: return "a symbolic link";
        case AE_IFCHR: return "a character device";
        case AE_IFBLK: return "a block device";
        case AE_IFIFO: return "a FIFO";
        case AE_IFSOCK: return "a socket";
        default: return "of an unknown type";
        }
}

/*
 * Turn an archive path into ours: a leading "./" is allowed (tar -C dir . makes it),
 * a trailing '/' on directories too; everything else goes to fat_check_path(), which
 * refuses "..", ".", empty components, bad UTF-8 and names FAT cannot hold. NULL path:
 * the root itself ("." or "./"), which is skipped.
 */
static int normalise_path(struct bundle *b, const char *raw, char **ret, struct cart_error *err) {
        _cleanup_free_ char *p = NULL;
        const char *s = raw;
        size_t n;
        int r;

        if (b->is_disk) {
                s += MIN(strlen(s), b->root_len);
                if (*s == '/')
                        s++;
        } else if (s[0] == '/')
                return entry_error(err, -EINVAL, b->path, raw, "absolute path");
        while (s[0] == '.' && s[1] == '/')
                s += 2;
        if (streq(s, ".") || !*s) {
                *ret = NULL;
                return 0;
        }
        p = strdup(s);
        if (!p)
                return -ENOMEM;
        n = strlen(p);
        if (n > 0 && p[n - 1] == '/')
                p[n - 1] = 0;
        r = fat_check_path(p, err);
        if (r < 0)
                return cart_error_prefix(err, r, "%s: %s", b->path, raw);
        *ret = TAKE_PTR(p);
        return 0;
}

static int skip_data(struct bundle *b, struct cart_error *err) {
        char buf[64 * KIB];
        ssize_t n;

        while ((n = bundle_read(b, buf, sizeof(buf), err)) > 0)
                ;
        return (int) n;
}

int bundle_next(struct bundle *b, struct bundle_entry *ret, struct cart_error *err) {
        struct archive_entry *e;
        const char *raw;
        char *path;
        mode_t type;
        int r;

        for (;;) {
                /* The caller may leave a file unread; the disk reader needs its data consumed. */
                if (b->in_file && b->is_disk) {
                        r = skip_data(b, err);
                        if (r < 0)
                                return r;
                }
                b->in_file = false;
                free(b->entry_path);
                b->entry_path = NULL;

                r = archive_read_next_header(b->a, &e);
                if (r == ARCHIVE_EOF)
                        return 0;
                if (r != ARCHIVE_OK)   /* ARCHIVE_WARN too: a half-understood header is an error */
                        return archive_fail(b, "unreadable entry", err);
                if (b->is_disk && b->root_len == 0)
                        b->root_len = strlen(archive_entry_pathname(e) ?: "");
                if (b->is_disk && archive_entry_filetype(e) == AE_IFDIR)
                        archive_read_disk_descend(b->a);

                raw = archive_entry_pathname_utf8(e);
                /* libarchive converts names through the locale: without a UTF-8 one (a
                 * minimal live system without C.UTF-8), say so rather than "not UTF-8". */
                if (!raw && MB_CUR_MAX == 1 && archive_entry_pathname(e) && utf8_is_valid(archive_entry_pathname(e)))
                        return cart_error_set(err, -ENOTSUP, "%s: %s: a name beyond ASCII needs a UTF-8 locale, and this system has none (install C.UTF-8)",
                                              b->path, archive_entry_pathname(e));
                if (!raw)
                        return entry_error(err, -EILSEQ, b->path, archive_entry_pathname(e) ?: "(unnamed entry)", "path is not valid UTF-8");
                r = normalise_path(b, raw, &path, err);
                if (r < 0)
                        return r;
                if (!path)
                        continue;
                b->entry_path = path;

                type = archive_entry_filetype(e);
                if (archive_entry_hardlink(e))
                        return entry_error(err, -EBADMSG, b->path, path, "a hard link (to %s); store the file itself", archive_entry_hardlink(e));
                if (type != AE_IFREG && type != AE_IFDIR)
                        return entry_error(err, -EBADMSG, b->path, path, "%s; only regular files and directories are allowed", type_name(type));
                if (++b->limits->n_files > b->limits->max_files)
                        return entry_error(err, -E2BIG, b->path, path, "more than %" PRIu64 " entries (--max-files)", b->limits->max_files);
                if (type == AE_IFREG && archive_entry_size_is_set(e) &&
                    (uint64_t) archive_entry_size(e) > b->limits->max_file_size)
                        return entry_error(err, -EFBIG, b->path, path, "declares %" PRIi64 " bytes, more than %" PRIu64 " (--max-file-size)", (int64_t) archive_entry_size(e), b->limits->max_file_size);
                /* Headers are not trusted (the data is counted as it streams), but an honest
                 * one lets a bomb be refused before a byte of it is inflated. */
                if (type == AE_IFREG && archive_entry_size_is_set(e) &&
                    b->limits->total_size + (uint64_t) archive_entry_size(e) > b->limits->max_total_size)
                        return entry_error(err, -EFBIG, b->path, path, "declares %" PRIi64 " bytes: the bundles would hold more than %" PRIu64 " (--max-total-size)", (int64_t) archive_entry_size(e), b->limits->max_total_size);
                b->in_file = type == AE_IFREG;
                b->file_size = 0;
                b->at_data_end = false;
                b->declared_size = archive_entry_size_is_set(e) ? (uint64_t) archive_entry_size(e) : 0;
                *ret = (struct bundle_entry) {
                        .path = path,
                        .is_dir = type == AE_IFDIR,
                        .mtime = archive_entry_mtime_is_set(e) ? (int64_t) archive_entry_mtime(e) : 0,
                };
                return 1;
        }
}

ssize_t bundle_read(struct bundle *b, void *buf, size_t len, struct cart_error *err) {
        struct bundle_limits *l = b->limits;
        la_ssize_t n;

        if (!b->in_file)
                return 0;
        n = b->at_data_end ? 0 : archive_read_data(b->a, buf, len);
        if (n < 0)
                return archive_fail(b, "unreadable data", err);
        if (n == 0 && b->file_size < b->declared_size) {
                /* libarchive fills holes between data blocks, not one at the end: FAT has no
                 * holes, so the zeros are content, and count against the limits. */
                b->at_data_end = true;
                n = (la_ssize_t) MIN((uint64_t) len, b->declared_size - b->file_size);
                memset(buf, 0, (size_t) n);
        }
        if (n == 0) {
                b->in_file = false;
                return 0;
        }
        b->file_size += (uint64_t) n;
        l->total_size += (uint64_t) n;
        if (b->file_size > l->max_file_size)
                return entry_error(err, -EFBIG, b->path, b->entry_path, "larger than %" PRIu64 " bytes (--max-file-size)", l->max_file_size);
        if (l->total_size > l->max_total_size)
                return entry_error(err, -EFBIG, b->path, b->entry_path, "the bundles hold more than %" PRIu64 " bytes (--max-total-size)", l->max_total_size);
        return n;
}
