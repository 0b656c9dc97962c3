/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What update.c (the plan) and update-apply.c (the writes) share. */
#pragma once

#include "fat/fat.h"
#include "flash/key-record.h"
#include "flash/update.h"

/* The attributes an update keeps as B has them. */
#define UPDATE_ATTRS_KEPT (FAT_ATTR_READ_ONLY | FAT_ATTR_HIDDEN | FAT_ATTR_SYSTEM)

/* An entry of the key as the walk found it. */
struct key_entry {
        char *path, *folded;            /* folded: fat_fold()'s, the sort and lookup key */
        struct fat_dirent e;            /* without its names */
};

struct update_ctx {
        const struct update_options *o;
        struct fat_reader *r;           /* the editor's */
        struct manifest *ma;            /* the key's own, checked */
        const struct manifest *mb;      /* B's */
        struct key_entry *keys;         /* sorted by folded path */
        size_t n_keys;
        struct key_record rec;
        char *owner_path, *owner_text;  /* B's owner file for this key; NULL: none */
        size_t owner_len;
        struct update_report *rep;
        uint64_t bytes_read;
        struct cart_error *err;         /* the walk callback's */
        bool is_quick;                  /* UPDATE_CHECK_QUICK */
        const struct release_file **touch;      /* B's files whose entry gets B's time */
        size_t n_touch;
        const char **written;           /* paths of B's files written, sorted (the read-back) */
        size_t n_written;
        size_t n_entry_mismatch;        /* read-back: entries not as B's files need them */
};

void update_ctx_done(struct update_ctx *u);
/* The walk's entries dropped, to walk again. */
void update_forget_keys(struct update_ctx *u);
/* Every entry of the key into u->keys: colliding names are refused (-ENOTUNIQ). */
int update_collect(struct update_ctx *u, struct cart_error *err);
const struct key_entry *update_find(const struct update_ctx *u, const char *path);
/* 1 when k holds size bytes of that SHA-256, 0 when not, or a negative errno. */
int update_holds(struct update_ctx *u, const struct key_entry *k, uint64_t size, const uint8_t sha[32],
                 struct cart_error *err);
/* Is the key's file entry as cartable writes f: f's size and time (update.h)? */
bool update_is_as_written(const struct fat_dirent *e, const struct release_file *f);
/* The actions into u->rep, in the order they are written. Nothing is written. */
int update_plan(struct update_ctx *u, struct cart_error *err);
