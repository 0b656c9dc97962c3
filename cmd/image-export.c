/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cartable image export: the raw image of a key, for duplicators and other tools. */
#include <inttypes.h>

#include "commands.h"
#include "flash-output.h"
#include "key-io.h"
#include "station/station.h"
#include "trust.h"

static const char help[] =
        "Usage: cartable image export RELEASE --size SIZE --output FILE [--trust KEY]... [OPTIONS]\n"
        "\n"
        "Write the raw image of a key of SIZE bytes (partition table, FAT32 volume, release\n"
        "files and /.cartable/) into FILE, sparsely: free space stays a hole. The same\n"
        "release, size, --volume-id and --time give the same bytes.\n"
        "\n"
        "Options:\n"
        "  --trust KEY       trusted minisign public key, or a directory of them (repeatable;\n"
        "                    replaces the [trust] keys of the configuration)\n"
        "  --size SIZE       size of the key (64M, 8G...)\n"
        "  --output FILE     the image: a new regular file, never under /dev, /proc or /sys\n"
        "  --volume-id XXXX-XXXX  FAT volume ID (default: random)\n"
        "  --time TIME       time of the volume and key record (seconds or YYYY-MM-DDTHH:MM:SSZ)\n"
        "  --json            JSON lines on stdout\n"
        "  -h, --help        show this help\n"
        "\n"
        "Exit codes: 0 written; 3 bad signature; 4 key too small for the release; 5 I/O error\n"
        "or a full file system; 64 usage; 66 missing release; 73 FILE exists or cannot be\n"
        "created; 130 cancelled (SIGINT, SIGTERM, SIGHUP: nothing is left behind).\n"
        "See cartable-image(1).\n";

struct args {
        const char *release, *output;
        struct trust_args trust;
        uint64_t size;
        bool has_volume_id, json;
        uint32_t volume_id;
        int64_t time;
};

static int parse_args(int argc, char **argv, struct args *a) {
        static const struct option options[] = {
                TRUST_OPTION('t'),
                { "size", required_argument, NULL, 's' },
                { "output", required_argument, NULL, 'o' },
                { "volume-id", required_argument, NULL, 'v' },
                { "time", required_argument, NULL, 'T' },
                { "json", no_argument, NULL, 'j' },
                {}
        };
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, "o:", options, NULL)) >= 0)
                switch (c) {
                case 't':
                        if (trust_args_add(&a->trust, optarg) < 0)
                                return -ENOMEM;
                        break;
                case 's':
                        if (parse_size(optarg, &a->size) < 0 || a->size == 0)
                                return usage_error(&command_image, "invalid size '%s'", optarg);
                        break;
                case 'o': a->output = optarg; break;
                case 'v':
                        if (key_parse_volume_id(optarg, &a->volume_id) < 0)
                                return usage_error(&command_image, "invalid volume ID '%s'", optarg);
                        a->has_volume_id = true;
                        break;
                case 'T':
                        if (key_parse_time(optarg, &a->time) < 0)
                                return usage_error(&command_image, "invalid time '%s'", optarg);
                        break;
                case 'j': a->json = true; break;
                default: return usage_bad_option(&command_image, argv);
                }
        if (argc - optind != 1)
                return usage_error(&command_image, "expected RELEASE");
        if (!a->output || a->size == 0)
                return usage_error(&command_image, "--size and --output are required");
        a->release = argv[optind];
        return 0;
}

static int run(int argc, char **argv) {
        _cleanup_(sign_trust_freep) struct sign_trust *trust = NULL;
        _cleanup_(station_freep) struct station *st = NULL;
        struct flash_report report;
        struct flash_output out;
        struct cart_error err = {};
        struct args a = {};
        int r;

        r = parse_args(argc, argv, &a);
        if (r == 0 && (r = trust_load(&a.trust, &trust)) < 0)
                r = exit_code_for(r);
        trust_args_done(&a.trust);
        if (r != 0)
                return r < 0 ? log_fail(r, "%s", strerror(-r)) : r;
        /* An image is no key of this station: its rollback state is neither checked nor moved. */
        r = station_new(a.release, arg_config, trust, STATION_NO_ROLLBACK, &st, &err);
        if (r < 0)
                return flash_output_error(a.json, a.output, &err, r, NULL);

        struct station_key k = {
                .target = a.output, .image_size = a.size, .has_volume_id = a.has_volume_id,
                .volume_id = a.volume_id, .time = a.time, .on_event = flash_output_event, .userdata = &out,
        };
        flash_output_catch_signals();
        flash_output_init(&out, a.json, a.output);
        r = station_export(st, &k, &report, &err);
        if (report.outcome != FLASH_OUTCOME_NONE && (r >= 0 || report.step >= FLASH_STEP_WRITE || a.json))
                flash_output_result(&out, &report);
        if (report.outcome == FLASH_OUTCOME_CANCELLED)
                return flash_output_cancelled(&out, &report);
        if (r < 0)
                return flash_output_failed(&out, &report, &err, r);
        return EXIT_OK;
}

const struct command image_export_command = {
        .name = "export",
        .summary = "write the raw image of a key, sparsely",
        .help = help,
        .run = run,
};
