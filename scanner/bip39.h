/*
 * bip39.h - scanner-internal: BIP-39 English seed phrase detection
 * (pipelock's internal/seedprotect).
 */
#ifndef PIPELOCK_SCANNER_BIP39_H
#define PIPELOCK_SCANNER_BIP39_H

#include <stddef.h>

#define BIP39_NWORDS	2048
#define BIP39_MAXWORDS	24

extern const char *const bip39_words[BIP39_NWORDS];

/* Index of word (any case, len bytes) in the list, or -1. */
int bip39_index(const char *w, size_t len);

/* 1 if the n word indices (12/15/18/21/24) carry a valid checksum. */
int bip39_checksum_ok(const int *idx, int n);

/*
 * Find the first seed phrase in buf: a window of 12/15/18/21/24 (>=
 * min_words) consecutive list words, tokens split on runs of [-\s,|;:].
 * Returns 1 and sets *off and *mlen (byte span) when found, else 0.
 */
int bip39_find(const char *buf, size_t len, int min_words, int verify,
    size_t *off, size_t *mlen);

#endif
