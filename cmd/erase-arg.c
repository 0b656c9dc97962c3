/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <unistd.h>

#include "erase-arg.h"
#include "key-io.h"
#include "station/held.h"
#include "station/station.h"

int erase_arg_parse(const struct command *c, const char *value, enum cart_erase *ret) {
        if (cart_erase_from_string(value, ret) < 0)
                return usage_error(c, _("--erase %s: expected auto, always or never"), value);
        return 0;
}

enum cart_erase erase_arg_default(void) {
        return arg_config ? arg_config->erase : CART_ERASE_AUTO;
}

enum flash_held erase_arg_journal_held(struct journal *j, const char *target, const char *pupil) {
        _cleanup_free_ char *uid = NULL;
        enum flash_held held = FLASH_HELD_UNKNOWN;
        struct cart_error err = {};
        char serial[128] = "";

        if (!j)
                return FLASH_HELD_UNKNOWN;
        if (station_target_is_device(target)) {
                _cleanup_close_ int fd = open(target, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
                if (fd < 0 || key_usb_serial(fd, serial, sizeof(serial)) < 0 || !serial[0])
                        return FLASH_HELD_UNKNOWN;
        } else {
                struct flash_report r = {};
                snprintf(r.key.device, sizeof(r.key.device), "%s", target);
                if (station_key_uid(&r, &uid) < 0)
                        return FLASH_HELD_UNKNOWN;
        }
        if (held_in_journal(j, uid ? uid : serial, pupil, &held, &err) < 0)
                return FLASH_HELD_UNKNOWN;
        return held;
}
