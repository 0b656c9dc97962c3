/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A disk or volume of tens of MiB is mostly zeros, so the FAT and verify harnesses read a
 * sparse description of one: records of [sector: u32 LE][length: u16 LE][length bytes],
 * each placing its bytes at sector * 512 (later records win). Every byte that no record
 * covers reads as zero, up to the harness's fixed size; reads past it fail with -EIO. A
 * truncated last record keeps the bytes it has. tests/fuzz/fat-seed.py turns an image
 * (tests/tools/fatimg build, cartable flash --size) into such a file.
 */
#pragma once

#include "fuzz.h"
#include "base/util.h"

struct record { uint64_t at; const uint8_t *bytes; size_t len; };
struct volume { struct record *records; size_t n; uint64_t size, budget; };

static inline int volume_read(void *userdata, void *buf, size_t len, uint64_t offset) {
        const struct volume *v = userdata;

        if (offset > v->size || len > v->size - offset)
                return -EIO;
        memset(buf, 0, len);
        for (size_t i = 0; i < v->n; i++) {
                const struct record *rec = &v->records[i];
                uint64_t from = MAX(offset, rec->at), to = MIN(offset + len, rec->at + rec->len);

                if (from < to)
                        memcpy((uint8_t *) buf + (from - offset), rec->bytes + (from - rec->at), to - from);
        }
        return 0;
}

static inline int volume_parse(const uint8_t *data, size_t size, struct volume *v) {
        size_t pos = 0;

        v->records = calloc(size / 6 + 1, sizeof(*v->records));
        if (!v->records)
                abort();
        while (size - pos >= 6) {
                struct record *rec = &v->records[v->n++];

                rec->at = (uint64_t) (data[pos] | data[pos + 1] << 8 | data[pos + 2] << 16 |
                                      (uint32_t) data[pos + 3] << 24) * 512;
                rec->len = MIN((size_t) (data[pos + 4] | data[pos + 5] << 8), size - pos - 6);
                rec->bytes = data + pos + 6;
                pos += 6 + rec->len;
        }
        return 0;
}

