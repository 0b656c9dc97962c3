/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Standard base64 (RFC 4648 section 4, with padding), as minisign writes its key and
 * signature lines. The decoder is strict: no whitespace, padding only at the end. */
#pragma once

#include <stddef.h>

/* Characters base64_encode() writes for n bytes, without the terminating NUL. */
#define BASE64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)

/* Encode n bytes into dst, which holds BASE64_ENCODED_LEN(n) + 1 bytes; NUL-terminated. */
void base64_encode(const void *src, size_t n, char *dst);
/*
 * Decode exactly len characters of src into dst (at most dst_size bytes). Returns the
 * number of bytes decoded, -EINVAL for a character outside the alphabet, misplaced
 * padding or a length that is not a multiple of 4, -ENOBUFS when dst is too small.
 */
int base64_decode(const char *src, size_t len, void *dst, size_t dst_size);
