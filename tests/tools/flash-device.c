/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * flash-device: reach lib/ probe, layout and writer on a real block device (a loop device),
 * which the command line refuses because it is not USB. O_DIRECT, O_EXCL and BLKRRPART
 * are those of a key.
 *
 *   flash-device probe DEVICE                 capacity probe; exit 0 good, 4 counterfeit
 *   flash-device layout DEVICE mbr|gpt        wipe, partition table, write, read back
 *   flash-device flash RELEASE DEVICE TRUST [--no-probe]
 *                                             lib/station on the device, opened by lib/device
 *                                             with the USB rule waived; the report on stdout
 */
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "reason.h"
#include "device/device.h"
#include "station/station.h"
#include "base/error.h"
#include "flash/flash.h"
#include "flash/layout.h"
#include "base/plan.h"
#include "flash/probe.h"
#include "flash/writer.h"

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
                fprintf(stderr, "flash-device: %s\n", ERROR_TEXT(&err, r));
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
                fprintf(stderr, "flash-device: %s\n", ERROR_TEXT(&err, r));
                close(fd);
                return 5;
        }
        (void) ioctl(fd, BLKRRPART);
        close(fd);
        printf("signatures %d\npartition %" PRIu64 " %" PRIu64 "\nwritten %" PRIu64 "\nread %" PRIu64 "\ndirect %d\n",
               n, li.partition_offset, li.partition_size, st.bytes_written, st.bytes_read, st.is_direct);
        return 0;
}

/* Through the station, as cartable flash does, with the USB rule waived for loop devices. */
static int do_flash(const char *release, const char *path, const char *trust_path, bool no_probe) {
        _cleanup_(sign_trust_freep) struct sign_trust *trust = NULL;
        _cleanup_(station_freep) struct station *st = NULL;
        struct device_policy policy = { .max_size = UINT64_MAX, .test_waive_usb_rule = true };
        struct station_key k = { .target = path, .no_probe = no_probe };
        struct flash_report rep;
        struct cart_error err = {};
        int r;

        r = sign_trust_new(&trust);
        if (r >= 0)
                r = sign_trust_add_path(trust, trust_path, &err);
        if (r >= 0)
                r = station_new(release, NULL, trust, STATION_NO_ROLLBACK, &st, &err);
        if (r < 0) {
                fprintf(stderr, "flash-device: %s\n", ERROR_TEXT(&err, r));
                return 2;
        }
        station_set_policy(st, &policy);
        r = station_flash(st, &k, &rep, &err);
        printf("outcome %s\nreason %s\nstep %s\nprobed %d\nreal %" PRIu64 "\nplan %" PRIu64 "\nwritten %" PRIu64 "\nread %" PRIu64 "\n"
               "direct %d\nwrite_seconds %.3f\nread_seconds %.3f\nflash_seconds %.3f\ncluster %" PRIu32 "\ncontent %" PRIu64 "\n"
               "device %s\n",
               flash_outcome_to_string(rep.outcome), cart_reason_to_string(rep.reason), flash_step_to_string(rep.step), rep.is_probed, rep.real_capacity,
               rep.plan_bytes, rep.bytes_written, rep.bytes_read, rep.is_direct, rep.write_seconds, rep.read_seconds,
               (double) (rep.finished_usec - rep.started_usec) / 1e6,
               rep.cluster_size, rep.content_bytes, rep.key.device);
        if (rep.has_failed_offset)
                printf("failed_offset %" PRIu64 "\n", rep.failed_offset);
        if (r < 0) {
                fprintf(stderr, "flash-device: %s\n", ERROR_TEXT(&err, r));
                return rep.outcome == FLASH_OUTCOME_REFUSED ? 4 : 5;
        }
        return 0;
}

int main(int argc, char **argv) {
        if ((argc == 5 || (argc == 6 && streq(argv[5], "--no-probe"))) && streq(argv[1], "flash"))
                return do_flash(argv[2], argv[3], argv[4], argc == 6);
        if (argc == 3 && streq(argv[1], "probe"))
                return do_probe(argv[2]);
        if (argc == 4 && streq(argv[1], "layout"))
                return do_layout(argv[2], argv[3]);
        fprintf(stderr, "usage: flash-device probe DEVICE | layout DEVICE mbr|gpt | flash RELEASE DEVICE TRUST [--no-probe]\n");
        return 64;
}
