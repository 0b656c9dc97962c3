/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * flash-device: reach lib/ probe, layout and writer on a real block device (a loop device),
 * which the command line refuses because it is not USB. O_DIRECT, O_EXCL and BLKRRPART
 * are those of a key.
 *
 *   flash-device probe DEVICE                 capacity probe; exit 0 good, 4 counterfeit
 *   flash-device layout DEVICE mbr|gpt        wipe, partition table, write, read back
 */
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "error.h"
#include "layout.h"
#include "plan.h"
#include "probe.h"
#include "writer.h"

static int open_device(const char *path, uint64_t *size, uint32_t *ss) {
        int fd = open(path, O_RDWR | O_EXCL | O_CLOEXEC);
        int s = 512;

        if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) {
                fprintf(stderr, "flash-device: %s: %m\n", path);
                exit(2);
        }
        if (ioctl(fd, BLKGETSIZE64, size) < 0 || ioctl(fd, BLKSSZGET, &s) < 0) {
                struct stat st;
                if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                        fprintf(stderr, "flash-device: %s: %m\n", path);
                        exit(2);
                }
                *size = (uint64_t) st.st_size;
        }
        *ss = (uint32_t) s;
        return fd;
}

static int do_probe(const char *path) {
        struct probe_result res;
        struct cart_error err = {};
        uint32_t ss;
        uint64_t size;
        int fd = open_device(path, &size, &ss), r;

        r = probe_fd(fd, size, 4096, (uint64_t) getpid() * 2654435761u, &res, &err);
        close(fd);
        if (r < 0) {
                fprintf(stderr, "flash-device: %s\n", cart_error_message(&err, r));
                return 5;
        }
        printf("verdict %s\nannounced %" PRIu64 "\nreal %" PRIu64 "\nblocks %u\nwritten %" PRIu64 "\n",
               probe_verdict_to_string(res.verdict), res.announced_size, res.real_size,
               res.blocks_probed, res.bytes_written);
        return res.verdict == PROBE_GOOD ? 0 : 4;
}

static int do_layout(const char *path, const char *scheme) {
        _cleanup_(plan_freep) struct plan *p = NULL;
        struct layout_params lp = { .disk_id = 0xC0FFEE };
        struct layout_info li;
        struct writer_options wo = { .use_direct = true };
        struct writer_stats st = {};
        struct cart_error err = {};
        uint64_t size;
        uint32_t ss;
        int fd = open_device(path, &size, &ss), r, n;

        wo.block_size = ss;
        lp.disk_size = size;
        lp.sector_size = ss;
        r = layout_scheme_from_string(scheme, &lp.scheme);
        if (r >= 0)
                r = plan_new(&p);
        if (r >= 0)
                r = n = layout_add_wipes(fd, size, ss, p, &err);
        if (r >= 0)
                r = layout_partition(&lp, p, &li, &err);
        if (r >= 0)
                r = plan_finalize(p, size, &err);
        if (r >= 0)
                r = writer_write(p, fd, &wo, &st, NULL, &err);
        if (r >= 0)
                r = writer_verify(p, fd, &wo, &st, NULL, &err);
        if (r < 0) {
                fprintf(stderr, "flash-device: %s\n", cart_error_message(&err, r));
                close(fd);
                return 5;
        }
        (void) ioctl(fd, BLKRRPART);
        close(fd);
        printf("signatures %d\npartition %" PRIu64 " %" PRIu64 "\nwritten %" PRIu64 "\nread %" PRIu64 "\ndirect %d\n",
               n, li.partition_offset, li.partition_size, st.bytes_written, st.bytes_read, st.is_direct);
        return 0;
}

int main(int argc, char **argv) {
        if (argc == 3 && streq(argv[1], "probe"))
                return do_probe(argv[2]);
        if (argc == 4 && streq(argv[1], "layout"))
                return do_layout(argv[2], argv[3]);
        fprintf(stderr, "usage: flash-device probe DEVICE | layout DEVICE mbr|gpt\n");
        return 64;
}
