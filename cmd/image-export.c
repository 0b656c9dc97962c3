/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cartable image export: the raw image of a key, for duplicators and other tools. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include "commands.h"
#include "base/output-file.h"
#include "flash/flash.h"
#include "flash-output.h"
#include "key-io.h"
#include "trust.h"

static const char help[] =
        "Usage: cartable image export RELEASE --size SIZE --output FILE [--trust KEY]... [OPTIONS]\n"
        "\n"
        "Write the raw image of a key of SIZE bytes (partition table, FAT32 volume, release\n"
        "files and /.cartable/) into FILE, sparsely: free space stays a hole. The same\n"
        "release, size, --volume-id and --time give the same bytes.\n"
        "\n"
        "Options:\n"
        "  --trust KEY       trusted minisign public key, or a directory of them (repeatable)\n"
        "  --size SIZE       size of the key (64M, 8G...)\n"
        "  --output FILE     the image; it must not exist\n"
        "  --volume-id XXXX-XXXX  FAT volume ID (default: random)\n"
        "  --time TIME       time of the volume and key record (seconds or YYYY-MM-DDTHH:MM:SSZ)\n"
        "  --json            JSON lines on stdout\n"
        "  -h, --help        show this help\n"
        "\n"
        "Exit codes: 0 written; 3 bad signature; 4 key too small for the release; 5 I/O error;\n"
        "64 usage; 66 missing release; 73 FILE exists or cannot be created.\n"
        "See cartable-image(1).\n";

struct args {
        const char *release, *output;
        char **trust;
        size_t n_trust;
        uint64_t size;
        bool has_volume_id, json;
        uint32_t volume_id;
        int64_t time;
};

static int parse_args(int argc, char **argv, struct args *a) {
        static const struct option options[] = {
                { "trust", required_argument, NULL, 't' },
                { "size", required_argument, NULL, 's' },
                { "output", required_argument, NULL, 'o' },
                { "volume-id", required_argument, NULL, 'v' },
                { "time", required_argument, NULL, 'T' },
                { "json", no_argument, NULL, 'j' },
                {}
        };
        int c;

        a->trust = calloc((size_t) argc, sizeof(char *));
        if (!a->trust)
                return -ENOMEM;
        optind = 0;
        while ((c = getopt_long(argc, argv, "o:", options, NULL)) >= 0)
                switch (c) {
                case 't': a->trust[a->n_trust++] = optarg; break;
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
        _cleanup_(release_unrefp) struct release *rel = NULL;
        _cleanup_(output_file_done) struct output_file img = { .fd = -EBADF };
        _cleanup_free_ char **trust_list = NULL;
        int fd;
        struct flash_report report;
        struct flash_output out;
        struct cart_error err = {};
        struct args a = {};
        int r;

        r = parse_args(argc, argv, &a);
        trust_list = a.trust;
        if (r != 0)
                return r < 0 ? log_fail(r, "%s", strerror(-r)) : r;
        r = trust_load(a.trust, a.n_trust, &trust);
        if (r < 0)
                return exit_code_for(r);
        r = release_open(a.release, trust, 0, &rel, &err);
        if (r < 0)
                return log_fail(r, "%s: %s", a.release, cart_error_message(&err, r));
        r = key_check_image_path(a.output, &err);
        if (r < 0)
                return log_fail(r, "%s", cart_error_message(&err, r));

        /* An unnamed file beside the output, linked at the end: a failed or killed export
         * leaves no partial image. */
        r = output_file_open(a.output, &img, &err);
        if (r < 0)
                return log_fail(r == -ENOMEM ? r : -EEXIST, "%s", cart_error_message(&err, r));
        if (img.n_stale > 0)
                log_info("%s: removed %u temporary file%s left by an interrupted export", a.output, img.n_stale,
                         img.n_stale == 1 ? "" : "s");
        fd = img.fd;
        if (ftruncate(fd, (off_t) a.size) < 0) {
                r = output_write_error(-errno);
                return log_fail(r == -EIO ? r : -EEXIST, "%s: cannot make a %" PRIu64 "-byte image: %s",
                                a.output, a.size, strerror(errno));
        }

        struct flash_target t = { .fd = fd, .size = a.size, .sector_size = 512, .is_new = true };
        struct flash_options o = {
                .release = rel, .no_probe = true, .has_volume_id = a.has_volume_id,
                .volume_id = a.volume_id, .time = a.time, .on_event = flash_output_event, .userdata = &out,
        };
        snprintf(t.identity.device, sizeof(t.identity.device), "%s", a.output);
        flash_output_init(&out, a.json, a.output);
        r = flash_key(&t, &o, &report, &err);
        flash_output_result(&out, &report);
        /* Out of space while writing the image is the output's failure, not a key too small. */
        if (r == -ENOSPC && report.step >= FLASH_STEP_WRITE)
                r = -EIO;
        if (r >= 0)
                r = output_file_link(&img, 0644, &err);
        if (r < 0)
                return log_fail(r, "%s: %s", a.output, cart_error_message(&err, r));
        return EXIT_OK;
}

const struct command image_export_command = {
        .name = "export",
        .summary = "write the raw image of a key, sparsely",
        .help = help,
        .run = run,
};
