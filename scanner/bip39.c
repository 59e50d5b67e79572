/*
 * bip39.c - BIP-39 seed phrase detection.
 *
 * A wallet's 12..24 words are a private key in plain English, so no regex
 * catches them.  Tokens are split on pipelock's separators, looked up in a
 * hash of the 2048-word list, and any run of enough consecutive list words
 * is checked as a mnemonic: 11 bits per word, the trailing n/3 bits must
 * equal the first bits of SHA-256 of the entropy.  The checksum makes a
 * false positive on ordinary English about 1 in 16 per window size.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "scanner/bip39.h"

#define BIP39_MINLEN	3	/* shortest word in the list */
#define BIP39_MAXLEN	8	/* longest */
#define BIP39_SLOTS	4096	/* open-addressing table, load 0.5 */

/* Immutable after pthread_once: shared by every scanner and thread. */
static uint16_t bip39_table[BIP39_SLOTS];	/* index + 1, 0 = empty */
static pthread_once_t bip39_once = PTHREAD_ONCE_INIT;

static uint32_t
bip39_hash(const char *w, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)(w[i] | 0x20)) * 16777619u;
	return h;
}

static void
bip39_build(void)
{
	uint32_t h;
	int i;

	for (i = 0; i < BIP39_NWORDS; i++) {
		h = bip39_hash(bip39_words[i], strlen(bip39_words[i]));
		while (bip39_table[h % BIP39_SLOTS])
			h++;
		bip39_table[h % BIP39_SLOTS] = (uint16_t)(i + 1);
	}
}

int
bip39_index(const char *w, size_t len)
{
	uint32_t h;
	const char *cand;
	size_t i;
	int idx;

	if (len < BIP39_MINLEN || len > BIP39_MAXLEN)
		return -1;
	for (i = 0; i < len; i++)
		if (((unsigned char)w[i] | 0x20) < 'a' ||
		    ((unsigned char)w[i] | 0x20) > 'z')
			return -1;
	pthread_once(&bip39_once, bip39_build);
	for (h = bip39_hash(w, len); (idx = bip39_table[h % BIP39_SLOTS]); h++) {
		cand = bip39_words[idx - 1];
		for (i = 0; i < len; i++)
			if ((w[i] | 0x20) != cand[i])
				break;
		if (i == len && cand[len] == '\0')
			return idx - 1;
	}
	return -1;
}

int
bip39_checksum_ok(const int *idx, int n)
{
	unsigned char bytes[33] = { 0 }, h[32];
	unsigned int hl = 0;
	int bit, i, b, cs, ent;

	if (n < 12 || n > BIP39_MAXWORDS || n % 3)
		return 0;
	for (i = 0, bit = 0; i < n; i++)
		for (b = 10; b >= 0; b--, bit++)
			if (idx[i] >> b & 1)
				bytes[bit / 8] |= (unsigned char)(0x80 >> bit % 8);
	cs = n * 11 / 33;
	ent = n * 11 - cs;
	if (!EVP_Digest(bytes, (size_t)ent / 8, h, &hl, EVP_sha256(), NULL))
		return 0;
	for (i = 0; i < cs; i++) {
		int want = h[i / 8] >> (7 - i % 8) & 1;
		int got = bytes[(ent + i) / 8] >> (7 - (ent + i) % 8) & 1;
		if (want != got)
			return 0;
	}
	return 1;
}

static int
bip39_is_sep(unsigned char c)
{
	return c == '-' || c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\f' || c == '\v' || c == ',' || c == '|' || c == ';' ||
	    c == ':';
}

int
bip39_find(const char *buf, size_t len, int min_words, int verify,
    size_t *off, size_t *mlen)
{
	static const int sizes[] = { 12, 15, 18, 21, 24 };
	int idx[BIP39_MAXWORDS];
	size_t start[BIP39_MAXWORDS], end = 0, i = 0, t;
	int run = 0, k, s, x;

	if (min_words < 12)
		min_words = 12;
	while (i < len) {
		while (i < len && bip39_is_sep((unsigned char)buf[i]))
			i++;
		t = i;
		while (i < len && !bip39_is_sep((unsigned char)buf[i]))
			i++;
		if (i == t)
			break;
		if ((x = bip39_index(buf + t, i - t)) < 0) {
			run = 0;
			continue;
		}
		/* Ring of the last 24 words: slot run % 24 is the newest. */
		idx[run % BIP39_MAXWORDS] = x;
		start[run % BIP39_MAXWORDS] = t;
		end = i;
		run++;
		for (k = 0; k < 5; k++) {
			int w[BIP39_MAXWORDS];

			s = sizes[k];
			if (s < min_words || s > run)
				continue;
			for (x = 0; x < s; x++)
				w[x] = idx[(run - s + x) % BIP39_MAXWORDS];
			if (verify && !bip39_checksum_ok(w, s))
				continue;
			*off = start[(run - s) % BIP39_MAXWORDS];
			*mlen = end - *off;
			return 1;
		}
	}
	return 0;
}
