/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cartable: provision pupils' USB keys with a signed ENT companion release. */
#include "commands.h"
#include "config-paths.h"
#include "i18n.h"

static const struct command *const commands[] = {
        &command_devices,
        &command_flash,
        &command_batch,
        &command_key,
        &command_image,
        &command_ls,
        &command_cat,
        &command_verify,
        &command_update,
        &command_repair,
        &command_roster,
        &command_journal,
        &command_report,
        &command_lost,
        &command_stolen,
        &command_issue,
        &command_identify,
        &command_return,
        &command_replace,
        &command_doctor,
        NULL
};

static void print_main_help(void) {
        fputs(_("Usage: cartable [--config FILE] COMMAND [OPTIONS] [ARGS]\n"
                "\n"
                "Provision pupils' USB keys with a signed ENT companion release: detect keys,\n"
                "partition and format them, write and read back every byte, keep an audit trail.\n"
                "\n"
                "Commands:\n"), stdout);
        for (const struct command *const *c = commands; *c; c++)
                printf("  %-16s %s\n", (*c)->name, _((*c)->summary));
        /* TRANSLATORS: "help" is the command's name, COMMAND the placeholder of its argument. */
        printf("  %-16s %s\n", _("help COMMAND"), _("show the help of a command"));
        /* TRANSLATORS: %s is the default configuration file's path. */
        printf(_("\n"
                 "Options:\n"
                 "  --config FILE    configuration file (default %s)\n"
                 "  -h, --help       show this help\n"
                 "  -V, --version    show the version\n"
                 "\n"
                 "Exit codes: 0 success; 1 key modified; 2 not a cartable key; 3 trust failure;\n"
                 "4 target refused; 5 I/O error; 64 usage; 65 bad input; 66 missing input;\n"
                 "70 internal error; 73 cannot create output; 78 station not ready (doctor);\n"
                 "130 cancelled. See cartable(1).\n"),
               CARTABLE_SYSCONFDIR "/cartable.conf");
}

static const struct command *find_command(const char *name) {
        for (const struct command *const *c = commands; *c; c++)
                if (streq((*c)->name, name))
                        return *c;
        return NULL;
}

/* The sub-command named sub when it has its own help, else c. */
static const struct command *find_sub(const struct command *c, const char *sub) {
        for (const struct command *const *s = c->subs; s && *s && sub; s++)
                if (streq((*s)->name, sub) && (*s)->help)
                        return *s;
        return c;
}

int main(int argc, char **argv) {
        const char *config_path = NULL;
        const struct command *c;
        struct cart_error err = {};
        int i, r, code;

        i18n_init();
        stderr_is_tty = isatty(STDERR_FILENO);

        for (i = 1; i < argc && argv[i][0] == '-'; i++) {
                if (streq(argv[i], "-h") || streq(argv[i], "--help")) {
                        print_main_help();
                        return EXIT_OK;
                } else if (streq(argv[i], "-V") || streq(argv[i], "--version")) {
                        printf("cartable " CARTABLE_VERSION "\n");
                        return EXIT_OK;
                } else if (streq(argv[i], "--config") && i + 1 < argc)
                        config_path = argv[++i];
                else if (strncmp(argv[i], "--config=", 9) == 0)
                        config_path = argv[i] + 9;
                else
                        return usage_error(NULL, _("unknown option '%s'"), argv[i]);
        }
        if (i >= argc) {
                print_main_help();
                return EXIT_USAGE;
        }
        if (streq(argv[i], "help")) {
                if (i + 1 >= argc) {
                        print_main_help();
                        return EXIT_OK;
                }
                c = find_command(argv[i + 1]);
                if (!c)
                        return usage_error(NULL, _("unknown command '%s'"), argv[i + 1]);
                command_print_help(c);
                return EXIT_OK;
        }
        c = find_command(argv[i]);
        if (!c)
                return usage_error(NULL, _("unknown command '%s'"), argv[i]);
        for (int j = i + 1; j < argc && !streq(argv[j], "--"); j++)
                if (streq(argv[j], "-h") || streq(argv[j], "--help")) {
                        command_print_help(find_sub(c, i + 1 < argc ? argv[i + 1] : NULL));
                        return EXIT_OK;
                }

        /* --config, else $CARTABLE_CONFIG, else the default file (lib/ reads no environment). */
        if (!config_path)
                config_path = getenv("CARTABLE_CONFIG");
        r = config_load(config_path, &arg_config, &err);
        if (r < 0)
                return log_fail_error(&err, r, _("configuration"));
        /* Commands report a bad option themselves, once (usage_bad_option). */
        opterr = 0;
        code = c->run(argc - i, argv + i);
        config_free(arg_config);
        return code;
}
