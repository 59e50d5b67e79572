/*
 * validate.h - scanner-internal post-match validators (pipelock's
 * validate.go): a regex hit only counts when its checksum holds.
 */
#ifndef PIPELOCK_SCANNER_VALIDATE_H
#define PIPELOCK_SCANNER_VALIDATE_H

#include <stddef.h>

#include "scanner/scanner.h"

/* Card number: 15..19 digits (separators ignored), issuer gate, Luhn. */
int validate_luhn(const char *s, size_t len);
/* IBAN: ISO 13616 country + length table, mod 97 == 1. */
int validate_mod97(const char *s, size_t len);
/* ABA routing number: 9 digits, prefix ranges, 3-7-1 weights. */
int validate_aba(const char *s, size_t len);
/* Bitcoin WIF: Base58Check (double SHA-256), 0x80, 32 or 33+0x01 bytes. */
int validate_wif(const char *s, size_t len);

/* Dispatch; SCAN_VALIDATE_NONE accepts.  Returns 1 valid, 0 not. */
int validate_match(enum scan_validator v, const char *s, size_t len);

/* Name <-> enum for config ("luhn", "mod97", "aba", "wif"); -1 unknown. */
int validate_from_name(const char *name);
const char *validate_name(enum scan_validator v);

#endif
