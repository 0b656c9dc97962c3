/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unkeyed BLAKE2b with any digest length from 1 to 64 bytes (RFC 7693). OpenSSL 3.0 only
 * offers BLAKE2b-512, and a shorter BLAKE2b is not a truncation of it (the length is part
 * of the parameter block); minisign's secret key checksum is BLAKE2b-256.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define BLAKE2B_OUTBYTES_MAX 64

/* outlen from 1 to BLAKE2B_OUTBYTES_MAX. */
void blake2b(void *out, size_t outlen, const void *in, size_t inlen);
