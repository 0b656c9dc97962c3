/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <time.h>

#include "fat/fat.h"
#include "flash/flash.h"
#include "flash/key-record.h"
#include "flash/layout.h"
#include "flash/writer.h"

struct flash_plan {
        struct plan *plan;
        struct fat_tree *tree;
};

/* Bytes held in the plan's memory, read as a file's content. */
struct blob {
        const uint8_t *data;
        size_t len;
};

static int blob_read(void *userdata, void *buf, size_t len, uint64_t offset) {
        const struct blob *b = userdata;

        if (offset > b->len || len > b->len - offset)
                return -ENODATA;
        memcpy(buf, b->data + offset, len);
        return 0;
}

const char *flash_step_to_string(enum flash_step s) {
        /* Words (W_), not data: a step given as a message's context is translated by cmd/. */
        static const char names[][24] _words_ = {
                [FLASH_STEP_CHECK] = N_("check"), [FLASH_STEP_PROBE] = N_("capacity probe"),
                [FLASH_STEP_LAYOUT] = N_("layout"), [FLASH_STEP_WRITE] = N_("write"),
                [FLASH_STEP_READBACK] = N_("read-back"), [FLASH_STEP_REREAD] = N_("partition re-read"),
                [FLASH_STEP_DONE] = N_("done"), [FLASH_STEP_ERASE] = N_("erase"),
        };
        return (unsigned) s < ELEMENTSOF(names) ? names[s] : "unknown";
}

const char *flash_held_to_string(enum flash_held h) {
        static const char *const names[] = {
                [FLASH_HELD_UNKNOWN] = "unknown", [FLASH_HELD_NOTHING] = "blank", [FLASH_HELD_RELEASE] = "release",
                [FLASH_HELD_SAME_PUPIL] = "same-pupil", [FLASH_HELD_OTHER_PUPIL] = "other-pupil",
                [FLASH_HELD_RETURNED] = "returned", [FLASH_HELD_FOREIGN] = "foreign",
        };
        return (unsigned) h < ELEMENTSOF(names) ? names[h] : "unknown";
}

const char *flash_outcome_to_string(enum flash_outcome o) {
        static const char *const names[] = {
                [FLASH_OUTCOME_NONE] = "running", [FLASH_OUTCOME_OK] = "ok",
                [FLASH_OUTCOME_REFUSED] = "refused", [FLASH_OUTCOME_FAILED] = "failed",
                [FLASH_OUTCOME_CANCELLED] = "cancelled",
        };
        return (unsigned) o < ELEMENTSOF(names) ? names[o] : "unknown";
}

static int64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct flash_plan *flash_plan_free(struct flash_plan *fp) {
        if (!fp)
                return NULL;
        plan_free(fp->plan);
        fat_tree_free(fp->tree);
        free(fp);
        return NULL;
}

const struct plan *flash_plan_get(const struct flash_plan *fp) {
        return fp->plan;
}

/* A file whose bytes live in the plan's memory. */
static int add_blob(struct flash_plan *fp, const char *path, const void *data, size_t len, uint8_t attrs,
                    int64_t time, struct cart_error *err) {
        struct blob *b = plan_alloc(fp->plan, sizeof(*b));
        void *copy = plan_alloc(fp->plan, len);

        if (!b || !copy)
                return -ENOMEM;
        memcpy(copy, data, len);
        b->data = copy;
        b->len = len;
        return fat_tree_add_file(fp->tree, path, len, attrs, time, blob_read, b, 0, err);
}

static int add_release_files(struct flash_plan *fp, const struct flash_options *o, const char *key_json,
                             int64_t time, struct cart_error *err) {
        const struct manifest *m = release_manifest(o->release);
        const uint8_t hs = FAT_ATTR_HIDDEN | FAT_ATTR_SYSTEM;
        const void *json;
        size_t json_len;
        const char *sig = release_signature_text(o->release);
        int r;

        for (size_t i = 0; i < manifest_n_files(m); i++) {
                const struct release_file *f = manifest_file(m, i);
                if (f->is_dir)
                        r = fat_tree_add_dir(fp->tree, f->path, f->attrs, f->mtime, err);
                else
                        r = fat_tree_add_file(fp->tree, f->path, f->size, f->attrs, f->mtime,
                                              release_read, o->release, f->data_offset, err);
                if (r < 0)
                        return r;
        }
        release_manifest_bytes(o->release, &json, &json_len);
        r = fat_tree_add_dir(fp->tree, KEY_CARTABLE_DIR, hs, time, err);
        if (r >= 0)
                r = add_blob(fp, KEY_CARTABLE_DIR "/" RELEASE_MANIFEST_PATH, json, json_len, hs, time, err);
        if (r >= 0)
                r = add_blob(fp, KEY_CARTABLE_DIR "/" RELEASE_SIGNATURE_PATH, sig, strlen(sig), hs, time, err);
        if (r >= 0)
                r = add_blob(fp, KEY_CARTABLE_DIR "/key.json", key_json, strlen(key_json), hs, time, err);
        if (r >= 0 && o->owner && manifest_is_personalised(m)) {
                _cleanup_free_ char *path = NULL, *text = NULL;
                size_t len;
                r = release_render_owner(o->release, o->owner, &path, &text, &len, err);
                if (r >= 0)
                        r = add_blob(fp, path, text, len, 0, time, err);
        }
        return r;
}

static void fill_release(struct flash_report *r, const struct manifest *m) {
        snprintf(r->release_name, sizeof(r->release_name), "%s", manifest_name(m));
        snprintf(r->release_version, sizeof(r->release_version), "%s", manifest_version(m));
        snprintf(r->release_key_id, sizeof(r->release_key_id), "%s", manifest_key_id(m));
        r->release_serial = manifest_serial(m);
}

void flash_report_start(struct flash_report *report, const struct flash_target *t, const struct release *rel) {
        *report = (struct flash_report) {
                .key = t->identity, .real_capacity = t->size, .started_usec = now_usec(),
        };
        report->key.capacity = t->size;
        fill_release(report, release_manifest(rel));
}

int flash_plan_build(const struct flash_target *t, const struct flash_options *o,
                     struct flash_report *report, struct flash_plan **ret, struct cart_error *err) {
        const struct manifest *m = release_manifest(o->release);
        const struct release_layout *lay = manifest_layout(m);
        _cleanup_(flash_plan_freep) struct flash_plan *fp = calloc(1, sizeof(*fp));
        _cleanup_free_ char *key_json = NULL;
        uint32_t ss = t->sector_size ? t->sector_size : 512;
        uint64_t disk = t->size - t->size % ss;
        int64_t time = o->time ? o->time : (int64_t) now_usec() / 1000000;
        struct layout_params lp = {
                .disk_size = disk, .sector_size = ss, .alignment = lay->alignment,
        };
        struct layout_info li;
        struct fat_params params = {
                .sector_size = ss, .cluster_size = lay->cluster_size,
                .align = (uint32_t) MIN(lay->alignment, (uint64_t) UINT32_MAX), .time = time,
        };
        struct fat_layout_info fi;
        int r;

        if (!fp)
                return -ENOMEM;
        fill_release(report, m);
        if (!report->volume_id) {
                if (o->has_volume_id)
                        report->volume_id = o->volume_id;
                else if (getrandom(&report->volume_id, sizeof(report->volume_id), 0) < 0)
                        return cart_error_errno(err, -errno, NULL, "volume id");
        }
        r = layout_scheme_from_string(lay->scheme, &lp.scheme);
        if (r < 0)
                return cart_error_set(err, r, "release layout: unknown partition scheme \"%s\"", lay->scheme);
        lp.disk_id = report->volume_id;
        lp.name = lay->label;
        r = plan_new(&fp->plan);
        if (r >= 0)
                r = fat_tree_new(&fp->tree);
        if (r < 0)
                return r;
        if (!t->is_new) {
                r = layout_add_wipes(t->fd, disk, ss, fp->plan, err);
                if (r < 0)
                        return r;
        }
        r = layout_partition(&lp, fp->plan, &li, err);
        if (r < 0)
                return r;
        report->flashed_at = time;
        r = flash_key_json(report, o->owner, time, &key_json, err);
        if (r < 0)
                return r;
        r = add_release_files(fp, o, key_json, time, err);
        if (r < 0)
                return r;
        /* The cluster size that writes the fewest bytes for this content, unless the release fixes it. */
        if (!params.cluster_size)
                params.cluster_size = fat_choose_cluster_size(fp->tree, li.partition_size, ss);
        params.offset = li.partition_offset;
        params.size = li.partition_size;
        params.volume_id = report->volume_id;
        snprintf(params.label, sizeof(params.label), "%s", lay->label ? lay->label : "");
        r = fat_layout(fp->tree, &params, fp->plan, &fi, err);
        if (r < 0)
                return r;
        r = plan_finalize(fp->plan, disk, err);
        if (r < 0)
                return r;
        report->partition_offset = li.partition_offset;
        report->partition_size = li.partition_size;
        report->cluster_size = fi.cluster_size;
        report->content_bytes = fi.content_bytes;
        report->plan_bytes = plan_bytes(fp->plan);
        *ret = TAKE_PTR(fp);
        return 0;
}

struct run {
        const struct flash_options *o;
        struct flash_report *report;
        int cancelled;           /* the callback's negative value, or 0 */
};

static int emit(const struct flash_options *o, struct flash_report *report, enum flash_step step,
                uint64_t done, uint64_t total) {
        report->step = step;
        return o->on_event ? o->on_event(o->userdata, report, step, done, total) : 0;
}

static int on_progress(void *userdata, enum writer_phase phase, uint64_t done, uint64_t total) {
        struct run *run = userdata;
        enum flash_step step = phase == WRITER_WRITE ? FLASH_STEP_WRITE :
                               phase == WRITER_ERASE ? FLASH_STEP_ERASE : FLASH_STEP_READBACK;
        int r = emit(run->o, run->report, step, done, total);

        if (r < 0)
                run->cancelled = r;
        return MIN(r, 0);
}

int flash_report_fail(struct flash_report *report, enum flash_outcome outcome, int r, struct cart_error *err) {
        cart_error_prefix(err, r, "%s", flash_step_to_string(report->step));
        report->outcome = outcome;
        report->finished_usec = now_usec();
        flash_report_set_error(report, r, err);
        return r;
}

void flash_report_set_error(struct flash_report *report, int r, const struct cart_error *err) {
        report->error = r;
        report->reason = cart_error_reason(err, r);
        if (err)
                report->failure = *err;
        else
                cart_error_reason_set(&report->failure, r, report->reason, NULL);
}

/*
 * The callback stopped the key. Once sector 0 has been written (the read-back step), it
 * is zeroed again, so that the key has no partition table and is never taken for a good one.
 */
static int cancel(const struct flash_target *t, struct flash_report *report, int r, struct cart_error *err) {
        uint32_t bs = t->sector_size ? t->sector_size : 512;
        _cleanup_free_ void *zero = NULL;

        if (report->step != FLASH_STEP_READBACK)
                report->step < FLASH_STEP_WRITE ? cart_error_set(err, r, "cancelled: nothing was written") :
                                                  cart_error_set(err, r, "cancelled");
        else if (!(zero = calloc(1, bs)) || pwrite(t->fd, zero, bs, 0) != (ssize_t) bs || fdatasync(t->fd) < 0) {
                int e = zero ? errno : ENOMEM;
                cart_error_errno(err, r, NULL, "cancelled, and clearing sector 0 failed");
                if (err) {
                        err->reason = CART_REASON_CANCELLED;
                        err->errnum = e;        /* the words of why sector 0 stayed */
                }
        } else
                cart_error_set(err, r, "cancelled: sector 0 cleared");   /* -ECANCELED: cancelled */
        return flash_report_fail(report, FLASH_OUTCOME_CANCELLED, r, err);
}

/* Blocks of the erased area read back: with 64 KiB each, 16 MiB whatever the key's size. */
#define ERASE_SAMPLES 256

/*
 * Zeros over every block the plan leaves alone, then a sample of them read back. A failure
 * is the key's (reason erase-failed): it is not issued. Sector 0 is zeroed first, so that a
 * key cut off here is never taken for the key it was.
 */
static int erase_key(const struct flash_target *t, const struct flash_plan *fp, const struct writer_options *wo,
                     struct flash_report *report, struct cart_error *err) {
        uint32_t ss = t->sector_size ? t->sector_size : 512;
        struct writer_stats st = {};
        uint64_t seed;
        int r;

        report->erase_method = "zeros";
        r = writer_erase(fp->plan, t->fd, t->size - t->size % ss, wo, &st, &report->failed_offset, err);
        report->erase_bytes = st.bytes_written;
        report->erase_seconds = st.write_seconds;
        if (r >= 0 && getrandom(&seed, sizeof(seed), 0) < 0)
                r = cart_error_errno(err, -errno, NULL, "getrandom");
        if (r >= 0)
                r = writer_erase_check(fp->plan, t->fd, t->size - t->size % ss, wo, ERASE_SAMPLES, seed, &st,
                                       &report->failed_offset, err);
        report->erase_checked_bytes = st.bytes_read;
        report->erase_seconds += st.read_seconds;
        if (r < 0 && r != -ECANCELED && err) {
                err->reason = CART_REASON_ERASE_FAILED;
                return r;
        }
        report->is_erased = r >= 0;
        return r;
}

static int probe_key(const struct flash_target *t, struct flash_report *report, struct cart_error *err) {
        uint32_t bs = MAX(t->sector_size, 4096u);
        struct probe_result res;
        uint64_t seed;
        int r;

        if (getrandom(&seed, sizeof(seed), 0) < 0)
                return cart_error_errno(err, -errno, NULL, "getrandom");
        r = probe_fd(t->fd, t->size - t->size % bs, bs, seed, &res, err);
        if (r < 0)
                return r;
        report->is_probed = true;
        report->probe_verdict = res.verdict;
        report->real_capacity = res.real_size;
        if (res.verdict != PROBE_GOOD)
                return probe_verdict_error(&res, err);
        return 0;
}

int flash_key(const struct flash_target *t, const struct flash_options *o,
              struct flash_report *report, struct cart_error *err) {
        const struct release_layout *lay = manifest_layout(release_manifest(o->release));
        _cleanup_(flash_plan_freep) struct flash_plan *fp = NULL;
        struct run run = { .o = o, .report = report };
        bool is_erase = !t->is_new && (o->erase_mode == CART_ERASE_ALWAYS ||
                                       (o->erase_mode == CART_ERASE_AUTO && flash_held_needs_erase(o->held)));
        struct writer_options wo = {
                .block_size = t->sector_size ? t->sector_size : 512, .chunk_size = o->chunk_size,
                .use_direct = true, .skip_zero = t->is_new, .zero_unplanned = is_erase,
                .progress = on_progress, .userdata = &run,
        };
        struct writer_stats st = {};
        uint64_t need;
        int r;

        flash_report_start(report, t, o->release);
        report->erase_mode = o->erase_mode;
        report->held = o->held;
        report->volume_id = o->has_volume_id ? o->volume_id : 0;
        report->flashed_at = o->time ? o->time : report->started_usec / 1000000;

        if ((r = emit(o, report, FLASH_STEP_CHECK, 0, 0)) < 0)
                return cancel(t, report, r, err);
        /* The release's minimum, which builds check against the layout's own floor. */
        need = MAX(lay->min_size, release_layout_floor(lay->alignment, lay->scheme && streq(lay->scheme, "gpt")));
        if (t->size < need) {
                r = cart_error_reason_set(err, -ENOSPC, CART_REASON_TOO_SMALL, NULL);
                if (err) {
                        err->value = t->size;
                        err->limit = need;
                        err->has_values = true;
                }
                return flash_report_fail(report, FLASH_OUTCOME_REFUSED, r, err);
        }
        if (t->is_block_device && !o->no_probe) {
                if ((r = emit(o, report, FLASH_STEP_PROBE, 0, 0)) < 0)
                        return cancel(t, report, r, err);
                r = probe_key(t, report, err);
                if (r < 0)
                        return flash_report_fail(report, r == -EPERM ? FLASH_OUTCOME_REFUSED : FLASH_OUTCOME_FAILED, r, err);
        }

        if ((r = emit(o, report, FLASH_STEP_LAYOUT, 0, 0)) < 0)
                return cancel(t, report, r, err);
        r = flash_plan_build(t, o, report, &fp, err);
        if (r < 0)
                return flash_report_fail(report, r == -ENOSPC ? FLASH_OUTCOME_REFUSED : FLASH_OUTCOME_FAILED, r, err);

        report->failed_offset = UINT64_MAX;
        if (is_erase) {
                if ((r = emit(o, report, FLASH_STEP_ERASE, 0, 0)) < 0)
                        return cancel(t, report, r, err);
                r = erase_key(t, fp, &wo, report, err);
                if (run.cancelled < 0)
                        return cancel(t, report, run.cancelled, err);
                if (r < 0) {
                        report->has_failed_offset = report->failed_offset != UINT64_MAX;
                        return flash_report_fail(report, FLASH_OUTCOME_FAILED, r, err);
                }
        }

        if ((r = emit(o, report, FLASH_STEP_WRITE, 0, 0)) < 0)
                return cancel(t, report, r, err);
        report->failed_offset = UINT64_MAX;
        r = writer_write(fp->plan, t->fd, &wo, &st, &report->failed_offset, err);
        report->bytes_written = st.bytes_written;
        report->write_seconds = st.write_seconds;
        report->is_direct = st.is_direct;
        if (run.cancelled < 0)
                return cancel(t, report, run.cancelled, err);
        if (r < 0) {
                report->has_failed_offset = report->failed_offset != UINT64_MAX;
                return flash_report_fail(report, FLASH_OUTCOME_FAILED, r, err);
        }

        if ((r = emit(o, report, FLASH_STEP_READBACK, 0, 0)) < 0)
                return cancel(t, report, r, err);
        r = writer_verify(fp->plan, t->fd, &wo, &st, &report->failed_offset, err);
        report->bytes_read = st.bytes_read;
        report->read_seconds = st.read_seconds;
        if (run.cancelled < 0)
                return cancel(t, report, run.cancelled, err);
        if (r < 0) {
                report->has_failed_offset = report->failed_offset != UINT64_MAX;
                return flash_report_fail(report, FLASH_OUTCOME_FAILED, r, err);
        }

        if (t->is_block_device) {
                (void) emit(o, report, FLASH_STEP_REREAD, 0, 0);
                /* Harmless when it fails: the kernel may hold no partition of the key open. */
                (void) ioctl(t->fd, BLKRRPART);
        }
        report->outcome = FLASH_OUTCOME_OK;
        report->finished_usec = now_usec();
        (void) emit(o, report, FLASH_STEP_DONE, 0, 0);
        return 0;
}
