/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Loading a test bed of tests/data/umockdev (UMOCKDEV_DATA) into a umockdev testbed. */
#pragma once

#include <umockdev.h>

static inline void umockdev_bed_add(UMockdevTestbed *testbed, const char *name) {
        _cleanup_free_ char *path = NULL;
        gchar *text = NULL;
        GError *gerr = NULL;

        assert_true(asprintf(&path, "%s/%s.umockdev", UMOCKDEV_DATA, name) > 0);
        if (!g_file_get_contents(path, &text, NULL, &gerr))
                fail_msg("%s: %s", path, gerr->message);
        if (!umockdev_testbed_add_from_string(testbed, text, &gerr))
                fail_msg("%s: %s", path, gerr->message);
        g_free(text);
}
