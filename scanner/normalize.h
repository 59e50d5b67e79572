/*
 * normalize.h - scanner-internal text normalisation and decoders.
 *
 * All functions write into caller-provided buffers (no allocation on the
 * scan path) and return the output length, or (size_t)-1 when the input is
 * not of that encoding / does not fit.  Output is never NUL-terminated
 * unless stated.
 */
#ifndef PIPELOCK_SCANNER_NORMALIZE_H
#define PIPELOCK_SCANNER_NORMALIZE_H

#include <stddef.h>

/*
 * pipelock's ForDLP: drop C0/C1/DEL and invisible/zero-width code points,
 * exotic spaces -> ' ', common confusables (Cyrillic/Greek lookalikes) ->
 * ASCII, combining marks dropped.  out must hold len bytes.
 */
size_t norm_for_dlp(const char *in, size_t len, char *out);
/* The input offset that produced output byte outpos of norm_for_dlp(). */
size_t norm_for_dlp_srcoff(const char *in, size_t len, size_t outpos);
/*
 * Same as norm_for_dlp() but TAB, LF and CR are kept: bodies and header
 * values keep their line structure so \b, (?m)^ and seed-phrase word
 * splits see what the sender wrote.
 */
size_t norm_for_text(const char *in, size_t len, char *out);
size_t norm_for_text_srcoff(const char *in, size_t len, size_t outpos);
/*
 * 1 when norm_for_text() would return the input unchanged because every
 * byte is printable ASCII, TAB, LF or CR (the common case, checked 16
 * bytes at a time), else 0.
 */
int norm_text_plain(const char *in, size_t len);

/* One round of %XX decoding ('+' -> ' ' when plus_space). */
size_t norm_pct_decode(const char *in, size_t len, char *out, int plus_space);
/* Repeat %-decoding until it stops changing, at most NORM_PCT_ROUNDS. */
#define NORM_PCT_ROUNDS 16
size_t norm_pct_decode_iter(const char *in, size_t len, char *out,
    int plus_space);

/* Decoders: std/url alphabet, padded or not; hex incl. ':' '-' ' ' ',' \x 0x. */
size_t norm_b64_decode(const char *in, size_t len, char *out, size_t outcap);
size_t norm_hex_decode(const char *in, size_t len, char *out, size_t outcap);
size_t norm_b32_decode(const char *in, size_t len, char *out, size_t outcap);

/* Remove ". / space \t \n \r + , ; |" (pipelock's noise strip). */
size_t norm_noise_strip(const char *in, size_t len, char *out);

/* Shannon entropy in bits per character (UTF-8 code points). */
double norm_entropy(const char *s, size_t len);

#endif
