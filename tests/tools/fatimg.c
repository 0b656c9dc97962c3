/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fatimg: the FAT engine from the command line, for tests and benchmarks.
 *
 *   fatimg build --size SIZE [--offset BYTES] [--label L] [--volume-id HEX] [--time EPOCH]
 *                [--cluster-size N | --auto-cluster] [--sector-size 512|4096] SRCDIR OUT.img
 *   fatimg ls IMG [--offset BYTES] [PATH]      fatimg cat IMG [--offset BYTES] PATH
 *   fatimg check IMG [--offset BYTES]          fatimg info IMG [--offset BYTES]
 *   fatimg extract IMG [--offset BYTES] DIR    fatimg tree IMG [--offset BYTES]
 *
 * build streams the plan into a fresh sparse file: PLAN_ZERO extents are skipped because
 * a new file reads as zeros. A file whose name starts with '.' gets the hidden attribute.
 */
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <time.h>

#include "reason.h"
#include "fat/fat.h"

static struct fat_tree *arg_tree;
static const char *arg_src;
static int64_t arg_time = -1;
static char **sources;
static size_t n_sources;

static int die(int r, const char *what, const struct cart_error *err) {
        fprintf(stderr, "fatimg: %s: %s\n", what, ERROR_TEXT(err, r));
        return 1;
}

/* A file of the source tree, opened for each read so that thousands need no descriptors. */
static int read_source(void *userdata, void *buf, size_t len, uint64_t offset) {
        int fd = open(userdata, O_RDONLY | O_CLOEXEC);
        int r;

        if (fd < 0)
                return -errno;
        r = pread_full(fd, buf, len, offset);
        close(fd);
        return r;
}

static struct cart_error walk_err;

static int add_entry(const char *fpath, const struct stat *st, int type, struct FTW *ftw) {
        const char *rel = fpath + strlen(arg_src);
        const char *base = fpath + ftw->base;
        uint8_t attrs = base[0] == '.' ? FAT_ATTR_HIDDEN : 0;
        int64_t t = arg_time >= 0 ? arg_time : (int64_t) st->st_mtime;
        char **x;

        while (*rel == '/')
                rel++;
        if (!*rel)
                return 0;
        if (type == FTW_D)
                return fat_tree_add_dir(arg_tree, rel, attrs, t, &walk_err) < 0 ? 1 : 0;
        if (type != FTW_F) {
                snprintf(walk_err.msg, sizeof(walk_err.msg), "\"%s\": not a regular file or directory", rel);
                return 1;
        }
        x = realloc(sources, (n_sources + 1) * sizeof(*x));
        if (!x)
                return 1;
        sources = x;
        sources[n_sources] = strdup(fpath);
        if (!sources[n_sources])
                return 1;
        return fat_tree_add_file(arg_tree, rel, (uint64_t) st->st_size, attrs, t, read_source,
                                 sources[n_sources++], 0, &walk_err) < 0 ? 1 : 0;
}

static int write_plan(const struct plan *plan, const char *out, uint64_t end) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_free_ uint8_t *buf = malloc(MIB);
        int fd, r = 0;

        if (!buf || asprintf(&tmp, "%s.XXXXXX", out) < 0)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (ftruncate(fd, (off_t) end) < 0)
                r = -errno;
        for (size_t i = 0; r >= 0 && i < plan_count(plan); i++) {
                const struct plan_extent *e = plan_get(plan, i);

                if (e->kind == PLAN_ZERO)
                        continue;       /* a fresh sparse file reads as zeros already */
                for (uint64_t at = 0; r >= 0 && at < e->length; at += MIB) {
                        size_t len = (size_t) MIN((uint64_t) MIB, e->length - at);
                        r = plan_read(plan, e->offset + at, buf, len, NULL);
                        if (r >= 0)
                                r = pwrite_full(fd, buf, len, e->offset + at);
                }
        }
        if (r >= 0 && (link(tmp, out) < 0))
                r = -errno;
        close(fd);
        unlink(tmp);
        return r;
}

static int cmd_build(int argc, char **argv) {
        static const struct option opts[] = {
                { "size", required_argument, NULL, 's' }, { "offset", required_argument, NULL, 'o' },
                { "label", required_argument, NULL, 'l' }, { "volume-id", required_argument, NULL, 'v' },
                { "time", required_argument, NULL, 't' }, { "cluster-size", required_argument, NULL, 'c' },
                { "auto-cluster", no_argument, NULL, 'a' }, { "sector-size", required_argument, NULL, 'S' }, {}
        };
        struct fat_params params = { .volume_id = 0x12345678, .time = (int64_t) time(NULL) };
        _cleanup_(plan_freep) struct plan *plan = NULL;
        struct fat_layout_info info;
        struct cart_error err = {};
        bool is_auto = false;
        uint64_t v;
        char a[16], b[16];
        int c, r;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 's': if (parse_size(optarg, &params.size) < 0) return die(-EINVAL, "--size", NULL); break;
                case 'o': if (parse_size(optarg, &params.offset) < 0) return die(-EINVAL, "--offset", NULL); break;
                case 'l': snprintf(params.label, sizeof(params.label), "%s", optarg); break;
                case 'v': params.volume_id = (uint32_t) strtoul(optarg, NULL, 16); break;
                case 't': arg_time = params.time = strtoll(optarg, NULL, 10); break;
                case 'c': if (parse_size(optarg, &v) < 0) return die(-EINVAL, "--cluster-size", NULL);
                          params.cluster_size = (uint32_t) v; break;
                case 'a': is_auto = true; break;
                case 'S': params.sector_size = (uint32_t) strtoul(optarg, NULL, 10); break;
                default: return 2;
                }
        if (argc - optind != 2 || params.size == 0) {
                fprintf(stderr, "usage: fatimg build --size SIZE [options] SRCDIR OUT.img\n");
                return 2;
        }
        arg_src = argv[optind];
        r = fat_tree_new(&arg_tree);
        if (r < 0)
                return die(r, "tree", NULL);
        if (nftw(arg_src, add_entry, 64, FTW_PHYS) != 0)
                return die(-EINVAL, arg_src, &walk_err);
        if (is_auto) {
                params.cluster_size = fat_choose_cluster_size(arg_tree, params.size, params.sector_size);
                if (params.cluster_size == 0)
                        return die(-ENOSPC, "--auto-cluster", &(struct cart_error) { .msg = "the tree fits with no cluster size" });
        }
        r = plan_new(&plan);
        if (r >= 0)
                r = fat_layout(arg_tree, &params, plan, &info, &err);
        if (r >= 0)
                r = plan_finalize(plan, params.offset + params.size, &err);
        if (r < 0)
                return die(r, "layout", &err);
        r = write_plan(plan, argv[optind + 1], params.offset + params.size);
        if (r < 0)
                return die(r, argv[optind + 1], NULL);
        printf("cluster_size %u\nreserved_sectors %u\nfat_sectors %u\ndata_offset %" PRIu64 "\n"
               "clusters %u\nclusters_used %u\ncontent_bytes %" PRIu64 "\nmetadata_bytes %" PRIu64 "\n"
               "plan_bytes %" PRIu64 "\nfree_bytes %" PRIu64 "\n",
               info.cluster_size, info.reserved_sectors, info.fat_sectors, info.data_offset,
               info.clusters, info.clusters_used, info.content_bytes, info.metadata_bytes,
               plan_bytes(plan), info.free_bytes);
        fprintf(stderr, "fatimg: wrote %s of plan (%s of content)\n",
                format_size(plan_bytes(plan), a, sizeof(a)), format_size(info.content_bytes, b, sizeof(b)));
        fat_tree_free(arg_tree);
        for (size_t i = 0; i < n_sources; i++)
                free(sources[i]);
        free(sources);
        return 0;
}

/* ---- reading ---- */

struct image {
        int fd;
        struct fat_reader *reader;
};

static int open_image(const char *path, uint64_t offset, struct image *ret) {
        struct cart_error err = {};
        struct stat st;
        int fd = open(path, O_RDONLY | O_CLOEXEC), r;

        if (fd < 0 || fstat(fd, &st) < 0)
                return die(-errno, path, NULL);
        if ((uint64_t) st.st_size < offset) {
                close(fd);
                return die(-EINVAL, "--offset", NULL);
        }
        r = fat_reader_open(fd_read_at, (void *) (intptr_t) fd, offset, (uint64_t) st.st_size - offset, &ret->reader, &err);
        if (r < 0) {
                close(fd);
                return die(r, path, &err);
        }
        ret->fd = fd;
        return 0;
}

static void close_image(struct image *img) {
        fat_reader_free(img->reader);
        close(img->fd);
}

static void print_entry(const char *path, const struct fat_dirent *e) {
        time_t t = (time_t) e->mtime;
        struct tm tm;
        char when[32];

        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        printf("%c%c%c%c %10" PRIu64 " %s %-12s %s\n", e->is_dir ? 'd' : '-',
               e->attrs & FAT_ATTR_READ_ONLY ? 'r' : '-', e->attrs & FAT_ATTR_HIDDEN ? 'h' : '-',
               e->attrs & FAT_ATTR_SYSTEM ? 's' : '-', e->size, when, e->short_name, path);
}

static int write_out(void *userdata, const void *buf, size_t len) {
        const uint8_t *p = buf;

        while (len > 0) {
                ssize_t n = write((int) (intptr_t) userdata, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -EIO;
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

static int write_stdout(void *userdata, const void *buf, size_t len) {
        return fwrite(buf, 1, len, stdout) == len ? 0 : -EIO;
}

struct counts { uint64_t dirs, files, bytes; bool is_tree; const char *dest; struct fat_reader *reader; struct cart_error *err; };

static int count_entry(void *userdata, const char *path, const struct fat_dirent *e) {
        struct counts *c = userdata;

        if (e->is_dir)
                c->dirs++;
        else {
                c->files++;
                c->bytes += e->size;
        }
        if (c->is_tree)
                printf("%s\t%s\n", path, e->short_name);
        if (c->dest) {
                _cleanup_free_ char *p = NULL;
                int fd, r;

                if (asprintf(&p, "%s/%s", c->dest, path) < 0)
                        return -ENOMEM;
                if (e->is_dir)
                        return mkdir(p, 0755) < 0 ? -errno : 0;
                fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
                if (fd < 0)
                        return -errno;
                r = fat_reader_read_entry(c->reader, path, e, write_out, (void *) (intptr_t) fd, c->err);
                close(fd);
                return r;
        }
        return 0;
}

static int cmd_read(const char *verb, int argc, char **argv) {
        static const struct option opts[] = { { "offset", required_argument, NULL, 'o' }, {} };
        struct cart_error err = {};
        struct image img;
        uint64_t offset = 0;
        const char *arg;
        int c, r = 0;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                if (c != 'o' || parse_size(optarg, &offset) < 0)
                        return 2;
        }
        if (optind >= argc)
                return 2;
        if (open_image(argv[optind], offset, &img) != 0)
                return 1;
        arg = optind + 1 < argc ? argv[optind + 1] : "";
        if (streq(verb, "info")) {
                struct fat_volume_info vi;
                r = fat_reader_info(img.reader, &vi);
                if (r >= 0)
                        printf("label %s\nvolume_id %08X\nsector_size %u\ncluster_size %u\nclusters %u\n"
                               "free_clusters %u\nfree_bytes %" PRIu64 "\ndata_offset %" PRIu64 "\n",
                               vi.label, vi.volume_id, vi.sector_size, vi.cluster_size, vi.clusters,
                               vi.free_clusters, vi.free_bytes, vi.data_offset);
        } else if (streq(verb, "ls")) {
                struct fat_dirent *v;
                size_t n;
                r = fat_reader_list(img.reader, arg, &v, &n, &err);
                for (size_t i = 0; r >= 0 && i < n; i++)
                        print_entry(v[i].name, &v[i]);
                if (r >= 0)
                        fat_dirents_free(v, n);
        } else if (streq(verb, "cat"))
                r = fat_reader_read_file(img.reader, arg, write_stdout, NULL, &err);
        else {
                struct counts cn = { .reader = img.reader, .err = &err };
                if (streq(verb, "extract"))
                        cn.dest = arg;
                cn.is_tree = streq(verb, "tree");
                r = fat_reader_walk(img.reader, count_entry, &cn, &err);
                if (r >= 0 && !cn.is_tree)
                        printf("ok: %" PRIu64 " directories, %" PRIu64 " files, %" PRIu64 " bytes\n",
                               cn.dirs, cn.files, cn.bytes);
        }
        close_image(&img);
        if (r < 0)
                return die(r, verb, &err);
        return 0;
}

static double now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Lays out N synthetic files (1000 similar long names a directory) and prints the time taken. */
static int cmd_layout_bench(int argc, char **argv) {
        _cleanup_(fat_tree_freep) struct fat_tree *t = NULL;
        _cleanup_(plan_freep) struct plan *plan = NULL;
        struct fat_params params = { .size = 8 * GIB, .volume_id = 1 };
        struct fat_layout_info info;
        struct cart_error err = {};
        long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
        double t0 = now(), t1, t2;
        int r;

        r = fat_tree_new(&t);
        for (long i = 0; r >= 0 && i < n; i++) {
                char path[64];
                snprintf(path, sizeof(path), "Dossier %ld/Long File Name %ld.txt", i / 1000, i);
                r = fat_tree_add_file(t, path, (uint64_t) (i % 5000), 0, 0, read_source, (void *) "", 0, &err);
        }
        t1 = now();
        if (r >= 0)
                r = plan_new(&plan);
        if (r >= 0)
                r = fat_layout(t, &params, plan, &info, &err);
        if (r >= 0)
                r = plan_finalize(plan, params.size, &err);
        t2 = now();
        if (r < 0)
                return die(r, "layout-bench", &err);
        printf("files %ld\nadd_seconds %.3f\nlayout_seconds %.3f\nextents %zu\n", n, t1 - t0, t2 - t1, plan_count(plan));
        return 0;
}

int main(int argc, char **argv) {
        if (argc < 2) {
                fprintf(stderr, "usage: fatimg build|ls|cat|check|info|extract|tree ...\n");
                return 2;
        }
        if (streq(argv[1], "layout-bench"))
                return cmd_layout_bench(argc - 1, argv + 1);
        if (streq(argv[1], "build"))
                return cmd_build(argc - 1, argv + 1);
        if (streq(argv[1], "ls") || streq(argv[1], "cat") || streq(argv[1], "check") ||
            streq(argv[1], "info") || streq(argv[1], "extract") || streq(argv[1], "tree"))
                return cmd_read(argv[1], argc - 1, argv + 1);
        fprintf(stderr, "fatimg: unknown command '%s'\n", argv[1]);
        return 2;
}
