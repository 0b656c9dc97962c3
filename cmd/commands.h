/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One struct command per subcommand, each defined in its own cmd/NAME.c. */
#pragma once

#include "common.h"
extern const struct command command_flash;
extern const struct command command_batch;
extern const struct command command_verify;
extern const struct command command_update;
extern const struct command command_repair;
extern const struct command command_ls;
extern const struct command command_cat;
extern const struct command image_export_command;   /* a sub-command of 'cartable image' */
int run_journal_purge(int argc, char **argv);        /* 'cartable journal purge' (cmd/journal-purge.c) */

extern const struct command command_devices;
extern const struct command command_doctor;
extern const struct command command_key;
extern const struct command command_image;
extern const struct command command_roster;
extern const struct command command_journal;
extern const struct command command_report;
extern const struct command command_lost;
extern const struct command command_stolen;
extern const struct command command_issue;
extern const struct command command_identify;
extern const struct command command_return;
extern const struct command command_replace;
