/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The owner file of an opened release: its path on the key and its template filled with one
 * pupil's fields (owner-template.c). */
#include "release/release-internal.h"

int release_render_owner(const struct release *rel, const struct owner_fields *f,
                         char **ret_path, char **ret_text, size_t *ret_len, struct cart_error *err) {
        const struct manifest *m = release_manifest(rel);
        _cleanup_free_ char *path = NULL, *text = NULL;
        size_t len;
        int r;

        if (!m->owner_path)
                return cart_error_set(err, -ENOENT, "release %s %s is not personalised", m->name, m->version);
        r = owner_template_render(m->owner_template, m->owner_path, f, &text, &len, err);
        if (r < 0)
                return r;
        path = strdup(m->owner_path);
        if (!path)
                return -ENOMEM;
        *ret_path = TAKE_PTR(path);
        *ret_len = len;
        *ret_text = TAKE_PTR(text);
        return 0;
}

int owner_render(const char *template, const char *where, const struct owner_fields *f,
                 char **ret_text, size_t *ret_len, struct cart_error *err) {
        return owner_template_render(template, where, f, ret_text, ret_len, err);
}
