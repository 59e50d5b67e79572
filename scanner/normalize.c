/*
 * normalize.c - text normalisation and decoders for the DLP scanner.
 *
 * Everything here is a pure function over caller buffers: the scan path
 * must not allocate per request, and a buffer of the input's length is
 * always enough for norm_for_dlp() and the %-decoders because every rule
 * only shrinks (a multi-byte code point maps to at most its own bytes).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "scanner/normalize.h"

#define NORM_NOT	((size_t)-1)

/*
 * Base letters of U+00C0..U+017F after NFD + combining-mark removal; '\0'
 * marks code points with no single ASCII base (kept as they are).  Covers
 * the accented Latin that RE2/NFKC folding would turn into ASCII.
 */
static const char norm_latin1[] =
	"AAAAAA\0CEEEEIIII" "DNOOOOO\0\0UUUUY\0\0"	/* C0-DF */
	"aaaaaa\0ceeeeiiii" "\0nooooo\0\0uuuuy\0y";	/* E0-FF */
static const char norm_latinA[] =
	"AaAaAaCcCcCcCcDd" "DdEeEeEeEeEeGgGg"		/* 100-11F */
	"GgGgHhHhIiIiIiIi" "Ii\0\0JjKk\0LlLlLlLl"	/* 120-13F */
	"lLlNnNnNn\0\0\0OoOo" "Oo\0\0RrRrRrSsSsSs"	/* 140-15F */
	"SsTtTtTtUuUuUuUu" "UuUuWwYyYZzZzZzs";		/* 160-17F */

/* Cyrillic U+0400..U+045F lookalikes (0 = none). */
static const char norm_cyr[96] = {
	/* 400 */ 'E','E',0,0,0,'S','I','I','J',0,0,0,0,0,0,0,
	/* 410 */ 'A','B',0,0,0,'E',0,'3',0,0,'K',0,'M','H','O',0,
	/* 420 */ 'P','C','T','Y',0,'X',0,0,0,0,0,'b',0,0,0,0,
	/* 430 */ 'a','b',0,'r',0,'e',0,0,0,0,'k',0,'m','h','o','n',
	/* 440 */ 'p','c','t','y',0,'x',0,0,0,0,0,'b',0,0,0,0,
	/* 450 */ 'e','e',0,'r',0,'s','i','i','j',0,0,0,0,0,0,0,
};

/* Greek U+0391..U+03C9 lookalikes (0 = none). */
static const char norm_greek[57] = {
	/* 391 */ 'A','B',0,0,'E','Z','H',0,'I','K',0,'M','N',0,'O',
	/* 3A0 */ 0,'P',0,0,'T','Y',0,'X',0,0,0,0,0,0,0,0,
	/* 3B0 */ 0,'a','b',0,'d','e',0,'n',0,'i','k',0,'u','v',0,'o',
	/* 3C0 */ 'n','p',0,'o','t','u',0,'x',0,'w',
};

/* Decode one UTF-8 sequence at s (n > 0 bytes); 0 cp/1 byte if invalid. */
static size_t
norm_utf8(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c = s[0];
	size_t need, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
		c &= 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		c &= 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		c &= 0x07;
	} else
		goto bad;
	if (n < need)
		goto bad;
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			goto bad;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((need == 3 && c < 0x800) || (need == 4 && c < 0x10000) ||
	    c > 0x10ffff)
		goto bad;
	*cp = c;
	return need;
bad:
	*cp = UINT32_MAX;
	return 1;
}

/* Code points removed outright: invisible, formatting, marks, tags. */
static int
norm_is_dropped(uint32_t c)
{
	if (c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f))
		return 1;
	if (c == 0xad || c == 0x34f || c == 0x61c || c == 0x115f ||
	    c == 0x1160 || c == 0x17b4 || c == 0x17b5 || c == 0x3164 ||
	    c == 0xfeff || c == 0xffa0)
		return 1;
	if (c >= 0x300 && c <= 0x36f)		/* combining diacritics */
		return 1;
	if ((c >= 0x1ab0 && c <= 0x1aff) || (c >= 0x1dc0 && c <= 0x1dff) ||
	    (c >= 0x20d0 && c <= 0x20ff) || (c >= 0xfe20 && c <= 0xfe2f))
		return 1;
	if ((c >= 0x180b && c <= 0x180d) || c == 0x180f)
		return 1;
	if ((c >= 0x200b && c <= 0x200f) || (c >= 0x202a && c <= 0x202e) ||
	    (c >= 0x2060 && c <= 0x2064) || (c >= 0x2066 && c <= 0x206f))
		return 1;
	if ((c >= 0xfe00 && c <= 0xfe0f) || (c >= 0xe0000 && c <= 0xe007f) ||
	    (c >= 0xe0100 && c <= 0xe01ef) || (c >= 0x1f1e6 && c <= 0x1f1ff) ||
	    (c >= 0x1f3fb && c <= 0x1f3ff))
		return 1;
	return 0;
}

static int
norm_is_space(uint32_t c)
{
	return c == 0xa0 || c == 0x1680 || c == 0x180e ||
	    (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
	    c == 0x202f || c == 0x205f || c == 0x3000;
}

/* The ASCII a code point folds to, or 0 when it stays as it is. */
static char
norm_fold(uint32_t c)
{
	if (c >= 0xc0 && c <= 0xff)
		return norm_latin1[c - 0xc0];
	if (c >= 0x100 && c <= 0x17f)
		return norm_latinA[c - 0x100];
	if (c >= 0x400 && c <= 0x45f)
		return norm_cyr[c - 0x400];
	if (c >= 0x391 && c <= 0x3c9)
		return norm_greek[c - 0x391];
	switch (c) {
	case 0x4bb: return 'h';
	case 0x4cf: return 'l';
	case 0x501: return 'd';
	case 0x51b: return 'q';
	case 0x51d: return 'w';
	case 0x3f2: return 'c';
	case 0x3f3: return 'j';
	case 0x261: return 'g';
	case 0x251: return 'a';
	case 0x578: return 'n';	/* Armenian vo */
	case 0x57d: return 'u';	/* Armenian seh */
	case 0x585: return 'o';	/* Armenian oh */
	case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0x2212:
		return '-';
	}
	if (c >= 0xff01 && c <= 0xff5e)		/* fullwidth ASCII (NFKC) */
		return (char)(c - 0xff01 + 0x21);
	if (c >= 0x1d400 && c <= 0x1d6a3)	/* math alphanumerics (NFKC) */
		return (char)((c - 0x1d400) % 52 < 26 ?
		    'A' + (c - 0x1d400) % 52 : 'a' + (c - 0x1d400) % 52 - 26);
	if (c >= 0x1d7ce && c <= 0x1d7ff)
		return (char)('0' + (c - 0x1d7ce) % 10);
	if (c >= 0x13a0 && c <= 0x13f4) {	/* Cherokee lookalikes */
		switch (c) {
		case 0x13a0: return 'D';
		case 0x13a1: return 'R';
		case 0x13a2: return 'T';
		case 0x13a9: return 'Y';
		case 0x13aa: return 'A';
		case 0x13ab: return 'J';
		case 0x13ac: return 'E';
		case 0x13b3: return 'W';
		case 0x13b7: return 'M';
		case 0x13bb: return 'H';
		case 0x13bd: return 'Y';
		case 0x13c0: return 'G';
		case 0x13c2: return 'h';
		case 0x13c3: return 'Z';
		case 0x13cf: return 'b';
		case 0x13d2: return 'R';
		case 0x13d4: return 'W';
		case 0x13d5: return 'S';
		case 0x13da: return 'V';
		case 0x13de: return 'L';
		case 0x13df: return 'C';
		case 0x13e2: return 'P';
		case 0x13e6: return 'K';
		}
	}
	return 0;
}

/*
 * Normalise one non-fast-path unit at in[*i]: advance *i and write 0 or 1
 * or (kept code point) n bytes to out.  Returns bytes written.
 */
static size_t
norm_one(const unsigned char *in, size_t len, size_t *i, char *out,
    int keep_ws)
{
	uint32_t c;
	size_t n = norm_utf8(in + *i, len - *i, &c);
	char a;

	if (c == UINT32_MAX) {			/* invalid UTF-8: keep byte */
		out[0] = (char)in[*i];
		*i += 1;
		return 1;
	}
	*i += n;
	if (keep_ws && (c == '\t' || c == '\n' || c == '\r')) {
		out[0] = (char)c;
		return 1;
	}
	if (norm_is_dropped(c))
		return 0;
	if (norm_is_space(c)) {
		out[0] = ' ';
		return 1;
	}
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if ((a = norm_fold(c)) != 0) {
		out[0] = a;
		return 1;
	}
	memcpy(out, in + *i - n, n);
	return n;
}

#define NORM_ONES	0x0101010101010101ULL
#define NORM_HIGHS	0x8080808080808080ULL

/* Length of the leading run of printable ASCII (0x20..0x7e). */
static size_t
norm_plain_run(const unsigned char *s, size_t len)
{
	size_t i = 0;
	uint64_t w, lo, del;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, s + i, 8);
		lo = (w - 0x20 * NORM_ONES) & ~w;	/* bytes < 0x20 */
		del = w ^ (0x7f * NORM_ONES);		/* zero at 0x7f */
		del = (del - NORM_ONES) & ~del;
		if ((w | lo | del) & NORM_HIGHS)
			break;
	}
	for (; i < len; i++)
		if (s[i] < 0x20 || s[i] >= 0x7f)
			break;
	return i;
}

static size_t
norm_impl(const char *in, size_t len, char *out, int keep_ws)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, o = 0, run;

	while (i < len) {
		/* Decoded binary alternates: test one byte before a run. */
		run = s[i] >= 0x20 && s[i] < 0x7f ?
		    norm_plain_run(s + i, len - i) : 0;
		if (run) {
			if (out + o != in + i)
				memmove(out + o, in + i, run);
			i += run;
			o += run;
			continue;
		}
		o += norm_one(s, len, &i, out + o, keep_ws);
	}
	return o;
}

size_t
norm_for_dlp(const char *in, size_t len, char *out)
{
	return norm_impl(in, len, out, 0);
}

size_t
norm_for_text(const char *in, size_t len, char *out)
{
	return norm_impl(in, len, out, 1);
}

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* Bytes [0, end) of s, 64 a step, with AVX-512 BW: the first not plain. */
__attribute__((target("avx512f,avx512bw")))
static size_t
norm_plain_avx512(const unsigned char *s, size_t end)
{
	const __m512i sp = _mm512_set1_epi8(0x20), del = _mm512_set1_epi8(0x7f);
	const __m512i tab = _mm512_set1_epi8('\t'), lf = _mm512_set1_epi8('\n');
	const __m512i cr = _mm512_set1_epi8('\r');
	__m512i v;
	__mmask64 bad;
	size_t i;

	for (i = 0; i + 64 <= end; i += 64) {
		v = _mm512_loadu_si512(s + i);
		/* < 0x20 (signed, so >= 0x80 too) but not \t \n \r, or 0x7f. */
		bad = (_mm512_cmplt_epi8_mask(v, sp) &
		    ~(_mm512_cmpeq_epi8_mask(v, tab) |
		    _mm512_cmpeq_epi8_mask(v, lf) |
		    _mm512_cmpeq_epi8_mask(v, cr))) |
		    _mm512_cmpeq_epi8_mask(v, del);
		if (bad)
			break;
	}
	return i;
}

/* 1 with AVX-512 BW, 0 without, -1 before the first check. */
static int norm_avx512 = -1;
#endif

int
norm_text_plain(const char *in, size_t len)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0;

#if defined(__x86_64__) && defined(__GNUC__)
	int simd = __atomic_load_n(&norm_avx512, __ATOMIC_RELAXED);

	if (simd < 0) {
		/* Threads may race here: they all store the same answer. */
		__builtin_cpu_init();
		simd = __builtin_cpu_supports("avx512bw") &&
		    getenv("PIPELOCK_FW_NO_SIMD") == NULL ? 1 : 0;
		__atomic_store_n(&norm_avx512, simd, __ATOMIC_RELAXED);
	}
	/* The loops below find the byte that is not plain, if any. */
	if (simd)
		i = norm_plain_avx512(s, len);
#endif

#if defined(__SSE2__)
	/* 16 bytes a step: < 0x20 (signed, so >= 0x80 too) or 0x7f. */
	const __m128i sp = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f);
	const __m128i tab = _mm_set1_epi8('\t'), lf = _mm_set1_epi8('\n');
	const __m128i cr = _mm_set1_epi8('\r');
	__m128i v, bad, ws, acc;
	size_t k;

	/* 64 bytes per branch: text is nearly always plain. */
	for (; i + 64 <= len; i += 64) {
		acc = _mm_setzero_si128();
		for (k = 0; k < 64; k += 16) {
			v = _mm_loadu_si128((const __m128i *)(s + i + k));
			ws = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, tab),
			    _mm_cmpeq_epi8(v, lf)), _mm_cmpeq_epi8(v, cr));
			acc = _mm_or_si128(acc, _mm_or_si128(_mm_andnot_si128(ws,
			    _mm_cmplt_epi8(v, sp)), _mm_cmpeq_epi8(v, del)));
		}
		if (_mm_movemask_epi8(acc))
			return 0;
	}
	for (; i + 16 <= len; i += 16) {
		v = _mm_loadu_si128((const __m128i *)(s + i));
		ws = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, tab),
		    _mm_cmpeq_epi8(v, lf)), _mm_cmpeq_epi8(v, cr));
		bad = _mm_or_si128(_mm_andnot_si128(ws, _mm_cmplt_epi8(v, sp)),
		    _mm_cmpeq_epi8(v, del));
		if (_mm_movemask_epi8(bad))
			return 0;
	}
#endif
	for (; i < len; i++)
		if ((s[i] < 0x20 && s[i] != '\t' && s[i] != '\n' &&
		    s[i] != '\r') || s[i] >= 0x7f)
			return 0;
	return 1;
}

static size_t
norm_srcoff(const char *in, size_t len, size_t outpos, int keep_ws)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, o = 0, run, prev;
	char tmp[4];

	while (i < len) {
		run = norm_plain_run(s + i, len - i);
		if (run) {
			if (outpos < o + run)
				return i + (outpos - o);
			i += run;
			o += run;
			continue;
		}
		prev = i;
		o += norm_one(s, len, &i, tmp, keep_ws);
		if (outpos < o)
			return prev;
	}
	return len;
}

size_t
norm_for_dlp_srcoff(const char *in, size_t len, size_t outpos)
{
	return norm_srcoff(in, len, outpos, 0);
}

size_t
norm_for_text_srcoff(const char *in, size_t len, size_t outpos)
{
	return norm_srcoff(in, len, outpos, 1);
}

static int
norm_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* One %-decoding round; *changed set when anything was decoded. */
static size_t
norm_pct_round(const char *in, size_t len, char *out, int plus_space,
    int *changed)
{
	size_t i, o = 0;
	int hi, lo;
	const char *pct;

	for (i = 0; i < len;) {
		pct = plus_space ? NULL : memchr(in + i, '%', len - i);
		if (!plus_space) {
			/* Bulk-copy up to the next '%': the common case. */
			size_t run = pct ? (size_t)(pct - (in + i)) : len - i;
			if (out + o != in + i)
				memmove(out + o, in + i, run);
			o += run;
			i += run;
			if (i >= len)
				break;
		}
		if (in[i] == '%' && i + 2 < len &&
		    (hi = norm_hexval((unsigned char)in[i + 1])) >= 0 &&
		    (lo = norm_hexval((unsigned char)in[i + 2])) >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 3;
			*changed = 1;
		} else if (plus_space && in[i] == '+') {
			out[o++] = ' ';
			i++;
			*changed = 1;
		} else
			out[o++] = in[i++];
	}
	return o;
}

size_t
norm_pct_decode(const char *in, size_t len, char *out, int plus_space)
{
	int changed = 0;

	return norm_pct_round(in, len, out, plus_space, &changed);
}

size_t
norm_pct_decode_iter(const char *in, size_t len, char *out, int plus_space)
{
	int changed = 1, round;
	size_t n = len;
	const char *src = in;

	for (round = 0; round < NORM_PCT_ROUNDS && changed; round++) {
		changed = 0;
		/* In place after the first round: output never outruns input. */
		n = norm_pct_round(src, n, out, plus_space, &changed);
		src = out;
	}
	return n;
}

/* base64 value + 1 of each byte (std and URL alphabets), 0: not base64. */
static const unsigned char norm_b64tab[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6,
	['G'] = 7, ['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12,
	['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17,
	['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22,
	['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27,
	['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
	['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37,
	['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
	['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47,
	['v'] = 48, ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52,
	['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57,
	['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62,
	['+'] = 63, ['-'] = 63, ['/'] = 64, ['_'] = 64,
};

static int
norm_b64val(unsigned char c)
{
	return (int)norm_b64tab[c] - 1;
}

size_t
norm_b64_decode(const char *in, size_t len, char *out, size_t outcap)
{
	size_t i, o = 0, pad = 0;
	uint32_t acc = 0;
	int bits = 0, v;

	while (len > 0 && in[len - 1] == '=' && pad < 2) {
		len--;
		pad++;
	}
	if (len % 4 == 1 || (pad && (len + pad) % 4 != 0))
		return NORM_NOT;
	for (i = 0; i < len; i++) {
		if ((v = norm_b64val((unsigned char)in[i])) < 0)
			return NORM_NOT;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outcap)
				return NORM_NOT;
			out[o++] = (char)(acc >> bits);
		}
	}
	return o;
}

static int
norm_is_hexsep(char c)
{
	return c == ':' || c == '-' || c == ' ' || c == ',';
}

size_t
norm_hex_decode(const char *in, size_t len, char *out, size_t outcap)
{
	size_t i = 0, o = 0, digits;
	int prefixed = -1, hi, lo;

	while (i < len) {
		while (i < len && norm_is_hexsep(in[i]))
			i++;
		if (i >= len)
			break;
		/* "\xNN" and "0xNN" byte prefixes; the first token decides. */
		if (i + 1 < len && ((in[i] == '\\' && (in[i + 1] | 0x20) == 'x') ||
		    (in[i] == '0' && (in[i + 1] | 0x20) == 'x' &&
		    prefixed != 0))) {
			if (prefixed == 0)
				return NORM_NOT;
			prefixed = 1;
			i += 2;
		} else if (prefixed == 1)
			return NORM_NOT;
		else
			prefixed = 0;
		for (digits = 0; i + 1 < len; digits += 2) {
			if ((hi = norm_hexval((unsigned char)in[i])) < 0 ||
			    (lo = norm_hexval((unsigned char)in[i + 1])) < 0)
				break;
			if (o >= outcap)
				return NORM_NOT;
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
			if (prefixed == 1)
				break;
		}
		if (digits == 0 && prefixed != 1)
			return NORM_NOT;
		if (prefixed == 1 && digits == 0 && o == 0)
			return NORM_NOT;
		if (i < len && !norm_is_hexsep(in[i]) && in[i] != '\\' &&
		    !(prefixed == 1 && in[i] == '0'))
			return NORM_NOT;
	}
	return o ? o : NORM_NOT;
}

size_t
norm_b32_decode(const char *in, size_t len, char *out, size_t outcap)
{
	size_t i, o = 0;
	uint64_t acc = 0;
	int bits = 0, v;
	unsigned char c;

	while (len > 0 && in[len - 1] == '=')
		len--;
	switch (len % 8) {
	case 1: case 3: case 6:
		return NORM_NOT;
	}
	for (i = 0; i < len; i++) {
		c = (unsigned char)in[i];
		if (c >= 'a' && c <= 'z')
			v = c - 'a';
		else if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= '2' && c <= '7')
			v = c - '2' + 26;
		else
			return NORM_NOT;
		acc = (acc << 5) | (uint64_t)v;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outcap)
				return NORM_NOT;
			out[o++] = (char)(acc >> bits);
		}
	}
	return o;
}

/* The bytes norm_noise_strip() removes. */
static const unsigned char norm_noise[256] = {
	['.'] = 1, ['/'] = 1, [' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1,
	['+'] = 1, [','] = 1, [';'] = 1, ['|'] = 1,
};

size_t
norm_noise_strip(const char *in, size_t len, char *out)
{
	size_t i, o = 0;

	/* Branch-free: always store, advance only past kept bytes. */
	for (i = 0; i < len; i++) {
		out[o] = in[i];
		o += !norm_noise[(unsigned char)in[i]];
	}
	return o;
}

#define NORM_ENT_SLOTS	512

/* Shannon sum over counts of `total` symbols. */
static double
norm_entropy_sum(const uint32_t *cnt, size_t n, size_t total, double e)
{
	size_t i;
	double p;

	for (i = 0; i < n; i++)
		if (cnt[i]) {
			p = (double)cnt[i] / (double)total;
			e -= p * log2(p);
		}
	return e;
}

double
norm_entropy(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	uint32_t ascii[128] = { 0 };
	uint32_t cps[NORM_ENT_SLOTS];
	uint32_t cnt[NORM_ENT_SLOTS];
	size_t i, n, total = 0, h, used = 0;
	int wide = 0;
	uint32_t c;

	for (i = 0; i < len; i += n) {
		total++;
		if (u[i] < 0x80) {
			/* ASCII (nearly every call): no decoding, no table. */
			ascii[u[i]]++;
			n = 1;
			continue;
		}
		n = norm_utf8(u + i, len - i, &c);
		if (c < 0x80) {
			ascii[c]++;
			continue;
		}
		if (!wide) {
			/* First non-ASCII symbol: only now clear the table. */
			memset(cnt, 0, sizeof(cnt));
			wide = 1;
		}
		if (c == UINT32_MAX)
			c = 0x110000 + u[i];	/* each invalid byte: own symbol */
		h = (c * 2654435761u) % NORM_ENT_SLOTS;
		/* A full table merges symbols: entropy is then a lower bound. */
		while (used < NORM_ENT_SLOTS - 1 && cnt[h] && cps[h] != c)
			h = (h + 1) % NORM_ENT_SLOTS;
		if (!cnt[h]) {
			cps[h] = c;
			used++;
		}
		cnt[h]++;
	}
	if (total == 0)
		return 0;
	return norm_entropy_sum(cnt, wide ? NORM_ENT_SLOTS : 0, total,
	    norm_entropy_sum(ascii, 128, total, 0));
}
