/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>

#include "exit-code.h"

/* Every reason, none left out (a designated table the size of the enum; -1: by errno). */
static const int reason_exits[_CART_REASON_MAX] = {
        [CART_REASON_NONE]                 = -1,
        [CART_REASON_SYSTEM]               = -1,       /* a missing file 66, anything else 70... */
        [CART_REASON_INTERNAL]             = EXIT_SOFTWARE,
        [CART_REASON_IO_ERROR]             = EXIT_IO,
        [CART_REASON_KEY_REMOVED]          = EXIT_IO,
        [CART_REASON_POLICY_NOT_USB]       = EXIT_REFUSED,
        [CART_REASON_POLICY_NOT_REMOVABLE] = EXIT_REFUSED,
        [CART_REASON_POLICY_MOUNTED]       = EXIT_REFUSED,
        [CART_REASON_POLICY_SWAP]          = EXIT_REFUSED,
        [CART_REASON_POLICY_HELD]          = EXIT_REFUSED,
        [CART_REASON_POLICY_SYSTEM]        = EXIT_REFUSED,
        [CART_REASON_POLICY_TOO_SMALL]     = EXIT_REFUSED,
        [CART_REASON_POLICY_TOO_LARGE]     = EXIT_REFUSED,
        [CART_REASON_POLICY_READ_ONLY]     = EXIT_REFUSED,
        [CART_REASON_POLICY_NOT_ALLOWED]   = EXIT_REFUSED,
        [CART_REASON_POLICY_DENIED]        = EXIT_REFUSED,
        [CART_REASON_NOT_BLOCK_DEVICE]     = EXIT_REFUSED,
        [CART_REASON_NOT_WHOLE_DISK]       = EXIT_REFUSED,
        [CART_REASON_IN_USE]               = EXIT_REFUSED,
        [CART_REASON_IDENTITY_CHANGED]     = EXIT_REFUSED,
        [CART_REASON_SERIAL_MISMATCH]      = EXIT_REFUSED,
        [CART_REASON_COUNTERFEIT]          = EXIT_REFUSED,
        [CART_REASON_TOO_SMALL]            = EXIT_REFUSED,
        [CART_REASON_READBACK_MISMATCH]    = EXIT_IO,
        [CART_REASON_BAD_SIGNATURE]        = EXIT_TRUST,
        [CART_REASON_UNTRUSTED_SIGNER]     = EXIT_TRUST,
        [CART_REASON_MALFORMED_SIGNATURE]  = EXIT_DATA,
        [CART_REASON_WRONG_PASSPHRASE]     = EXIT_TRUST,
        [CART_REASON_ROLLBACK]             = EXIT_TRUST,
        [CART_REASON_BAD_INPUT]            = -1,       /* a malformed file 65, an output that exists 73 */
        [CART_REASON_CORRUPT_VOLUME]       = EXIT_NOT_CARTABLE,
        [CART_REASON_NOT_A_KEY]            = EXIT_NOT_CARTABLE,
        [CART_REASON_OUTPUT_EXISTS]        = EXIT_CANTCREAT,
        [CART_REASON_NO_TRUST]             = EXIT_TRUST,
        [CART_REASON_NOT_FOUND]            = EXIT_NOINPUT,
        [CART_REASON_CANCELLED]            = EXIT_CANCELLED,
        [CART_REASON_TAMPERED]             = EXIT_TRUST,
        [CART_REASON_REFUSED]              = EXIT_REFUSED,
        [CART_REASON_INTERRUPTED]          = EXIT_CANCELLED,
        [CART_REASON_REFLASHED]            = -1,       /* stored beside an outcome, never a failure */
        [CART_REASON_REPLACED]             = -1,
        [CART_REASON_CHECKPOINT_INCOMPLETE] = EXIT_REFUSED,
        [CART_REASON_FILE_SYMLINK]         = EXIT_REFUSED,
        [CART_REASON_FILE_FOREIGN_OWNER]   = EXIT_REFUSED,
        [CART_REASON_FILE_WRITABLE_BY_OTHERS] = EXIT_REFUSED,
        [CART_REASON_SPOOL_MISMATCH]       = EXIT_DATA,
        [CART_REASON_SWAPPED]              = EXIT_MODIFIED,
        [CART_REASON_ERASE_FAILED]         = EXIT_IO,
};

int exit_code_for_reason(enum cart_reason reason) {
        return (unsigned) reason < _CART_REASON_MAX ? reason_exits[reason] : -1;
}

int exit_code_for(int r) {
        switch (r < 0 ? -r : r) {
        case 0:
                return EXIT_OK;
        case ENOENT:
                return EXIT_NOINPUT;
        case EEXIST:
        case EACCES:            /* a PostgreSQL role without the right (a station's, purging) */
                return EXIT_CANTCREAT;
        case EBADMSG: case EILSEQ: case ENAMETOOLONG: case EFBIG: case E2BIG: case EINVAL:
        case EPROTONOSUPPORT:   /* a journal from a newer cartable: not ours to read */
        case ESRCH:             /* a pupil who left */
                return EXIT_DATA;
        case EMEDIUMTYPE:       /* not FAT32, not a cartable key */
        case EUCLEAN: case ELOOP:   /* a key's volume damaged (a loop in a chain): unreadable */
                return EXIT_NOT_CARTABLE;
        case ENOKEY: case EKEYREJECTED: case EKEYEXPIRED: case EKEYREVOKED: case ESTALE:
                return EXIT_TRUST;
        case EPERM: case ENOSPC: case EBUSY: case EROFS:
                return EXIT_REFUSED;
        case EIO: case ENODEV: case ENXIO: case EBADE: case ENOMEDIUM:
                return EXIT_IO;
        case ENOTTY:            /* no terminal to ask a passphrase on */
        case ENOTUNIQ:          /* a pupil id that needs its school */
                return EXIT_USAGE;
        case ECONNREFUSED: case ECONNRESET:   /* a PostgreSQL journal's server */
                return EXIT_UNAVAILABLE;
        case ECANCELED:
                return EXIT_CANCELLED;
        default:
                return EXIT_SOFTWARE;
        }
}

int exit_code_for_error(const struct cart_error *err, int r) {
        int code = err && err->reason != CART_REASON_NONE ? exit_code_for_reason(err->reason) : -1;

        return code >= 0 ? code : exit_code_for(r);
}

int exit_code_for_key(const struct cart_error *err, int r) {
        int code = exit_code_for_error(err, r);

        enum cart_reason reason = cart_error_reason(err, r);

        /* A manifest that does not parse, a chain that loops, a read that fails, a file
         * where a directory should be: the key is not one cartable can vouch for. A bad
         * signature is still a trust failure, a malformed one on the key too (elsewhere a
         * bad input file, 65), and running out of memory is the station's. */
        if (reason == CART_REASON_MALFORMED_SIGNATURE)
                return EXIT_TRUST;
        if (code == EXIT_TRUST || reason == CART_REASON_INTERNAL)
                return code;
        return EXIT_NOT_CARTABLE;
}

int exit_code_for_target(const struct cart_error *err, int r) {
        /* A target that is missing or unreadable is a missing input (66), not a key that
         * is no cartable key (2). */
        return r == -ENOENT || r == -EACCES ? EXIT_NOINPUT : exit_code_for_error(err, r);
}

int exit_code_for_key_path(const struct cart_error *err, int r) {
        /* The volume is readable but the path names nothing to show: 66, not "not a key". */
        return r == -ENOENT || r == -ENOTDIR || r == -EISDIR ? EXIT_NOINPUT : exit_code_for_key(err, r);
}

int exit_code_for_key_update(const struct cart_error *err, int r) {
        switch (r < 0 ? -r : r) {
        case EXDEV:             /* a key of another release: no more to be trusted than a signature */
                return EXIT_TRUST;
        case EMEDIUMTYPE: case EUCLEAN: case ENOTUNIQ: case EBADMSG: case EBUSY:
                return EXIT_NOT_CARTABLE;
        default:                /* a signature, a rollback 3; too small 4; I/O, read back 5 */
                return exit_code_for_error(err, r);
        }
}
