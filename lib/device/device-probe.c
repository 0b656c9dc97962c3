/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What a key holds now, from a read-only libblkid probe: the partition table, then each
 * partition's file system probed at its offset on the whole disk (so it works without
 * partition nodes: umockdev, image files, kernels that do not scan partitions).
 */
#include <blkid.h>
#include <fcntl.h>
#include <strings.h>

#include "device/device-internal.h"

#define GPT_TYPE_MS_BASIC_DATA "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7"

static void blkid_free_probep(blkid_probe *pr) {
        if (*pr)
                blkid_free_probe(*pr);
}

void device_content_done(struct device_content *c) {
        free(c->probe_message);
        free(c->pttype);
        free(c->fstype);
        free(c->label);
        for (size_t i = 0; i < c->n_parts; i++) {
                free(c->parts[i].type);
                free(c->parts[i].name);
                free(c->parts[i].fstype);
                free(c->parts[i].fsversion);
                free(c->parts[i].label);
        }
        free(c->parts);
        *c = (struct device_content) {};
}

static int lookup(blkid_probe pr, const char *name, char **ret) {
        const char *v = NULL;

        *ret = NULL;
        if (blkid_probe_lookup_value(pr, name, &v, NULL) < 0 || !v || !v[0])
                return 0;
        *ret = strdup(v);
        return *ret ? 0 : -ENOMEM;
}

static int probe_superblock(int fd, uint64_t offset, uint64_t size, char **ret_type,
                            char **ret_version, char **ret_label) {
        _cleanup_(blkid_free_probep) blkid_probe pr = blkid_new_probe();
        int r;

        if (!pr)
                return -ENOMEM;
        if (blkid_probe_set_device(pr, fd, (blkid_loff_t) offset, (blkid_loff_t) size) < 0)
                return -EIO;
        blkid_probe_enable_partitions(pr, 0);
        blkid_probe_enable_superblocks(pr, 1);
        blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_VERSION | BLKID_SUBLKS_LABEL);
        r = blkid_do_safeprobe(pr);
        if (r == -2)
                return -EUCLEAN;  /* several signatures: ambivalent */
        if (r < 0)
                return -EIO;
        if (r == 1)
                return 0;
        r = lookup(pr, "TYPE", ret_type);
        if (r >= 0 && ret_version)
                r = lookup(pr, "VERSION", ret_version);
        if (r >= 0)
                r = lookup(pr, "LABEL", ret_label);
        /* FAT keeps its label twice; the boot sector's copy when the root has no label entry. */
        if (r >= 0 && !*ret_label)
                r = lookup(pr, "LABEL_FATBOOT", ret_label);
        return r;
}

static int read_partitions(int fd, blkid_probe pr, struct device_content *c) {
        blkid_partlist pl = blkid_probe_get_partitions(pr);
        int n = pl ? blkid_partlist_numof_partitions(pl) : 0;
        int r;

        if (n <= 0)
                return 0;
        c->parts = calloc((size_t) n, sizeof(*c->parts));
        if (!c->parts)
                return -ENOMEM;
        for (int i = 0; i < n; i++) {
                blkid_partition p = blkid_partlist_get_partition(pl, i);
                struct device_part *dp = &c->parts[c->n_parts];
                const char *ts = blkid_partition_get_type_string(p), *nm = blkid_partition_get_name(p);

                if (!p)
                        continue;
                c->n_parts++;
                dp->number = (unsigned) blkid_partition_get_partno(p);
                dp->offset = (uint64_t) blkid_partition_get_start(p) * 512;
                dp->size = (uint64_t) blkid_partition_get_size(p) * 512;
                if (ts)
                        dp->type = strdup(ts);
                else if (asprintf(&dp->type, "0x%02x", (unsigned) blkid_partition_get_type(p)) < 0)
                        dp->type = NULL;
                if (!dp->type || (nm && nm[0] && !(dp->name = strdup(nm))))
                        return -ENOMEM;
                /* A partition without a recognisable file system is not an error. */
                r = probe_superblock(fd, dp->offset, dp->size, &dp->fstype, &dp->fsversion, &dp->label);
                if (r == -ENOMEM)
                        return r;
        }
        return 0;
}

static bool is_fat32_type(const char *pttype, const char *type) {
        if (streq(pttype, "dos"))
                return streq(type, "0x0b") || streq(type, "0x0c");
        return streq(pttype, "gpt") && strcasecmp(type, GPT_TYPE_MS_BASIC_DATA) == 0;
}

static int set_error(struct device_content *c, int r, const char *what) {
        c->probe_error = r;
        c->probe_message = strdup(what);     /* cmd/ adds the errno's words */
        return r;
}

static int probe_disk(struct device_content *c, int fd) {
        _cleanup_(blkid_free_probep) blkid_probe pr = blkid_new_probe();
        int r;

        if (!pr)
                return set_error(c, -ENOMEM, "libblkid");
        if (blkid_probe_set_device(pr, fd, 0, 0) < 0)
                return set_error(c, -EIO, "libblkid cannot use the device");
        blkid_probe_enable_partitions(pr, 1);
        blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);
        blkid_probe_enable_superblocks(pr, 1);
        blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_LABEL);
        r = blkid_do_safeprobe(pr);
        if (r == -2)
                return set_error(c, -EUCLEAN, "ambivalent signatures (libblkid)");
        if (r < 0)
                return set_error(c, -EIO, "cannot probe");
        if (r == 1)
                return 0;   /* blank, or nothing libblkid knows */
        if (lookup(pr, "PTTYPE", &c->pttype) < 0 || lookup(pr, "TYPE", &c->fstype) < 0 ||
            lookup(pr, "LABEL", &c->label) < 0)
                return set_error(c, -ENOMEM, "libblkid");
        if (c->pttype && (r = read_partitions(fd, pr, c)) < 0)
                return set_error(c, r, "cannot read the partitions");
        return 0;
}

void device_probe_content(struct device_info *d) {
        struct device_content *c = &d->content;
        _cleanup_close_ int fd = -EBADF;

        device_content_done(c);
        c->is_probed = true;
        fd = open(d->devnode, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0) {
                set_error(c, -errno, "cannot open for probing");
                return;
        }
        if (probe_disk(c, fd) < 0)
                return;
        c->is_cartable_like = c->pttype && c->n_parts > 0 && c->parts[0].number == 1 &&
                              is_fat32_type(c->pttype, c->parts[0].type) &&
                              c->parts[0].fstype && streq(c->parts[0].fstype, "vfat") &&
                              c->parts[0].fsversion && streq(c->parts[0].fsversion, "FAT32");
}
