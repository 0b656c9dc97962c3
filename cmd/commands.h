/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One struct command per subcommand, each defined in its own cmd/NAME.c. */
#pragma once

#include "common.h"

extern const struct command command_devices;
extern const struct command command_key;
extern const struct command command_image;
