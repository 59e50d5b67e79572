/*
 * test_normalize.c - ForDLP normalisation, %-decoding, base64/hex/base32
 * decoders, noise strip and entropy.
 */
#include <math.h>
#include <string.h>

#include "tap.h"
#include "scanner/normalize.h"

static const char *
norm(const char *in)
{
	static char out[512];
	size_t n = norm_for_dlp(in, strlen(in), out);

	out[n] = '\0';
	return out;
}

static const char *
dec(size_t (*f)(const char *, size_t, char *, size_t), const char *in)
{
	static char out[512];
	size_t n = f(in, strlen(in), out, sizeof(out) - 1);

	if (n == (size_t)-1)
		return "(not)";
	out[n] = '\0';
	return out;
}

static void
test_for_dlp(void)
{
	char out[64];
	const char *in;
	size_t n;

	is_str(norm("plain ascii stays"), "plain ascii stays", "ASCII untouched");
	is_str(norm("sk-\xe2\x80\x8b" "ant"), "sk-ant", "U+200B dropped");
	is_str(norm("a\xe2\x80\x8c" "b\xe2\x80\x8d" "c\xe2\x81\xa0" "d\xef\xbb\xbf" "e"),
	    "abcde", "ZWNJ, ZWJ, word joiner, BOM dropped");
	is_str(norm("a\xc2\xad" "b"), "ab", "soft hyphen dropped");
	is_str(norm("a\xef\xb8\x8f" "b\xf3\xa0\x80\x81" "c"), "abc",
	    "variation selector and tag dropped");
	is_str(norm("a\x01" "b\x7f" "c\xc2\x85" "d\te\nf"), "abcdef",
	    "C0, DEL, C1, tab, newline dropped");
	is_str(norm("a\xc2\xa0" "b\xe2\x80\x83" "c\xe3\x80\x80" "d"), "a b c d",
	    "exotic spaces become space");
	is_str(norm("\xd1\x95k-\xd0\xb0nt"), "sk-ant", "Cyrillic s and a fold");
	is_str(norm("\xce\xbf\xcf\x81"), "op", "Greek omicron rho fold");
	is_str(norm("e\xcc\x81" "t\xc3\xa9"), "ete", "combining mark and e-acute");
	is_str(norm("\xef\xbd\x93\xef\xbd\x8b"), "sk", "fullwidth folds");
	is_str(norm("\xe4\xb8\xad\xe6\x96\x87"), "\xe4\xb8\xad\xe6\x96\x87",
	    "CJK kept");
	is_str(norm("a\xff" "b"), "a\xff" "b", "invalid UTF-8 byte kept");
	in = "x\xe2\x80\x8by\tz";
	n = norm_for_text(in, strlen(in), out);
	out[n] = '\0';
	is_str(out, "xy\tz", "norm_for_text keeps tab");
	is_int(norm_for_dlp_srcoff(in, strlen(in), 1), 4, "srcoff skips ZW");
	is_int(norm_for_text_srcoff(in, strlen(in), 3), 6, "text srcoff");
}

static void
test_pct(void)
{
	char out[64];
	size_t n;

	n = norm_pct_decode("a%2Db+c%zz", 10, out, 1);
	out[n] = '\0';
	is_str(out, "a-b c%zz", "one round, plus as space, bad escape kept");
	n = norm_pct_decode_iter("sk%25252Dant", 12, out, 0);
	out[n] = '\0';
	is_str(out, "sk-ant", "triple-encoded decoded iteratively");
	n = norm_pct_decode_iter("100%", 4, out, 0);
	is_int(n, 4, "trailing %% kept");
}

static void
test_decoders(void)
{
	is_str(dec(norm_b64_decode, "c2stYW50LWFwaTAz"), "sk-ant-api03",
	    "base64 std");
	is_str(dec(norm_b64_decode, "aGVsbG8gd29ybGQ="), "hello world",
	    "base64 padded");
	is_str(dec(norm_b64_decode, "aGVsbG8gd29ybGQ"), "hello world",
	    "base64 unpadded");
	is_str(dec(norm_b64_decode, "Pz8_Pw"), "????", "base64url");
	is_str(dec(norm_b64_decode, "abc!"), "(not)", "base64 bad char");
	is_str(dec(norm_b64_decode, "abcde"), "(not)", "base64 bad length");
	is_str(dec(norm_hex_decode, "736b2d616e74"), "sk-ant", "hex");
	is_str(dec(norm_hex_decode, "736B2D616E74"), "sk-ant", "hex upper");
	is_str(dec(norm_hex_decode, "73:6b:2d:61:6e:74"), "sk-ant", "hex colon");
	is_str(dec(norm_hex_decode, "73 6b 2d 61"), "sk-a", "hex space");
	is_str(dec(norm_hex_decode, "\\x73\\x6b\\x2d"), "sk-", "hex \\x");
	is_str(dec(norm_hex_decode, "0x730x6b"), "sk", "hex 0x");
	is_str(dec(norm_hex_decode, "0x73 0x6b"), "sk", "hex 0x spaced");
	is_str(dec(norm_hex_decode, "736"), "(not)", "hex odd length");
	is_str(dec(norm_hex_decode, "zz"), "(not)", "hex bad char");
	is_str(dec(norm_b32_decode, "ONVS2YLOOQ"), "sk-ant", "base32 unpadded");
	is_str(dec(norm_b32_decode, "ONVS2YLOOQ======"), "sk-ant",
	    "base32 padded");
	is_str(dec(norm_b32_decode, "onvs2ylooq"), "sk-ant", "base32 lower");
	is_str(dec(norm_b32_decode, "ONVS2YLOO1"), "(not)", "base32 bad char");
}

static void
test_misc(void)
{
	char out[64];
	size_t n = norm_noise_strip("a.b/c d+e,f;g|h\ti", 17, out);

	out[n] = '\0';
	is_str(out, "abcdefghi", "noise strip");
	ok(fabs(norm_entropy("aaaa", 4)) < 1e-9, "entropy of aaaa is 0");
	ok(fabs(norm_entropy("abcd", 4) - 2.0) < 1e-9, "entropy of abcd is 2");
	ok(fabs(norm_entropy("\xc3\xa9\xc3\xa8", 4) - 1.0) < 1e-9,
	    "entropy counts code points");
	ok(norm_entropy("", 0) == 0, "empty entropy");
}

int
main(void)
{
	test_for_dlp();
	test_pct();
	test_decoders();
	test_misc();
	return tap_done();
}
